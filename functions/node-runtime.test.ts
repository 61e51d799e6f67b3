import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbApiStore } from '../features/online/dynamodb-api-store.js';
import { DynamoDbStore } from '../features/online/dynamodb.js';
import { UpstashStore } from '../features/online/upstash.js';
import { seedDynaliteTable, startDynalite, type DynaliteHandle } from '../test/harness/dynalite.js';
import { startRedisServer } from '../test/harness/redis-server.js';
import { startUpstashBridge } from '../test/harness/upstash-bridge.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import { parseConfig } from './config.js';
import { createLogger } from './logger.js';
import { createNodeRuntime, type NodeRuntime } from './node-runtime.js';

/**
 * How the Node runtime (the local server and Lambda) reaches DynamoDB: with static credentials in
 * the environment it signs its reads itself, without an SDK client; otherwise an SDK client's
 * credential chain signs them. Both read the same items from dynalite.
 */

const APPLICANT = '19770707_0707';
const TABLE = `node-runtime-${Date.now()}`;
const AWS_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ENDPOINT_URL_DYNAMODB',
] as const;

let dynalite: DynaliteHandle;
let dir: string;
let running: NodeRuntime | undefined;
const saved = Object.fromEntries(AWS_VARIABLES.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  dynalite = await startDynalite();
  await seedDynaliteTable(dynalite.endpoint, TABLE, [zipcodeRecord(), creditRecord(APPLICANT)]);
  dir = await mkdtemp(path.join(os.tmpdir(), 'node-runtime-'));
});

afterEach(async () => {
  await running?.close();
  running = undefined;
  for (const name of AWS_VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

afterAll(async () => {
  await dynalite?.stop();
  await rm(dir, { recursive: true, force: true });
});

function setAwsEnvironment(values: Partial<Record<(typeof AWS_VARIABLES)[number], string>>) {
  for (const name of AWS_VARIABLES) delete process.env[name];
  Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint, ...values });
}

async function decide(): Promise<{ status: number; servedBy: unknown }> {
  running = await createNodeRuntime(parseConfig({ DYNAMODB_TABLE: TABLE }), {
    logger: createLogger('silent'),
  });
  const response = await running.app.request('/loan-decision', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(applicationFor(APPLICANT)),
  });
  const body = (await response.json()) as { features?: { served_by?: unknown } };
  return { status: response.status, servedBy: body.features?.served_by };
}

describe('the Node runtime’s DynamoDB store', () => {
  it('signs with the environment’s static credentials, without an SDK client', async () => {
    setAwsEnvironment({
      AWS_ACCESS_KEY_ID: 'runtime-test',
      AWS_SECRET_ACCESS_KEY: 'runtime-test',
      AWS_SESSION_TOKEN: 'runtime-session',
      AWS_REGION: 'us-east-1',
    });
    expect(await decide()).toEqual({ status: 200, servedBy: 'dynamodb' });
    expect(running!.store).toBeInstanceOf(DynamoDbApiStore);
    expect(running!.store).not.toBeInstanceOf(DynamoDbStore);
  });

  it('leaves the rest of the chain to an SDK client: here a shared credentials file', async () => {
    const credentialsFile = path.join(dir, 'credentials');
    await writeFile(
      credentialsFile,
      '[default]\naws_access_key_id = from-file\naws_secret_access_key = from-file\n',
    );
    setAwsEnvironment({
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
      AWS_CONFIG_FILE: path.join(dir, 'no-config'),
      AWS_REGION: 'us-east-1',
    });
    expect(await decide()).toEqual({ status: 200, servedBy: 'dynamodb' });
    expect(running!.store).toBeInstanceOf(DynamoDbStore);
  });
});

describe('the Node runtime with Upstash', () => {
  it('reads features and checks rate limits over node:http, one request each, no fetch', async () => {
    const redis = await startRedisServer();
    const bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'node-runtime-token' });
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const prefix = `node-runtime-${Date.now()}:`;
    try {
      const seed = new UpstashStore({ url: bridge.url, token: bridge.token, keyPrefix: prefix });
      await seed.write([zipcodeRecord(), creditRecord(APPLICANT)]);
      const config = parseConfig({
        UPSTASH_REDIS_REST_URL: bridge.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
        REDIS_KEY_PREFIX: prefix,
        API_KEYS: 'node-runtime-key-0123456789',
      });
      running = await createNodeRuntime(config, {
        logger: createLogger('silent'),
        clientIp: () => '203.0.113.9',
      });
      fetchSpy.mockClear();
      bridge.requests = 0;
      const response = await running.app.request('/loan-decision', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer node-runtime-key-0123456789',
        },
        body: JSON.stringify(applicationFor(APPLICANT)),
      });
      expect(response.status).toBe(200);
      expect(
        ((await response.json()) as { features: { served_by: string } }).features.served_by,
      ).toBe('upstash');
      // The limiter's two windows in one request (it may load its script first), the features in
      // another; none through fetch.
      expect(bridge.requests).toBeGreaterThanOrEqual(2);
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
      await running?.close();
      running = undefined;
      await bridge.stop();
      await redis.stop();
    }
  });
});
