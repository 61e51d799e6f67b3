import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import { seedDynaliteTable, startDynalite, type DynaliteHandle } from './harness/dynalite.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';
import { applicationFor, creditRecord, zipcodeRecord } from './fixtures/applicant.js';
import {
  baseHeaders,
  functionUrlEvent,
  httpApiEvent,
  lambdaContext,
} from './fixtures/lambda-events.js';
import { expectedDecision } from './support/app-under-test.js';

/**
 * The Lambda adapter with real event shapes, configured the way SST does it: linked resources
 * arrive as SST_RESOURCE_<Name> JSON variables and are read with `Resource`.
 */

const APPLICANT = '19750505_0505';
// A deployed stage (SST_RESOURCE_App has one) requires an API key by default.
const API_KEY = 'lambda-test-key-0123456789abcdef';
const authorized = { authorization: `Bearer ${API_KEY}` };
const table = `lambda-${Date.now()}`;
let redis: RedisServerHandle;
let dynalite: DynaliteHandle;
const saved = { ...process.env };

beforeAll(async () => {
  [redis, dynalite] = await Promise.all([startRedisServer(), startDynalite()]);
  await seedDynaliteTable(dynalite.endpoint, table, [zipcodeRecord(), creditRecord(APPLICANT)]);
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([redis?.stop(), dynalite?.stop()]);
});

async function importHandler(env: Record<string, string>) {
  vi.resetModules();
  process.env = { ...saved, ...env };
  return (await import('../functions/lambda.js')).handler;
}

/** A stage with DynamoDB linked by SST, as deployed (dynalite standing in). */
const dynamoDbStage = () => ({
  SST_RESOURCE_App: JSON.stringify({ name: 'loan-decision-api', stage: 'test' }),
  SST_RESOURCE_Features: JSON.stringify({ name: table, type: 'sst.aws.Dynamo' }),
  SST_RESOURCE_ApiKeys: JSON.stringify({ value: API_KEY, type: 'sst.sst.Secret' }),
  AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  LOG_LEVEL: 'silent',
  // dynalite on a busy 2-core CI machine is far slower than DynamoDB; defaults are 4 + 5 ms.
  DYNAMODB_DEADLINE_MS: '3000',
});

describe('Lambda handler, DynamoDB linked by SST', () => {
  let handler: Awaited<ReturnType<typeof importHandler>>;
  beforeAll(async () => {
    handler = await importHandler(dynamoDbStage());
  });

  it.each([
    ['function URL', functionUrlEvent],
    ['API Gateway HTTP API (v2)', httpApiEvent],
  ])('decides from a %s event', async (_name, event) => {
    const application = applicationFor(APPLICANT);
    const response = await handler(
      event({ body: JSON.stringify(application), headers: { ...baseHeaders, ...authorized } }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    expect(body.features.served_by).toBe('dynamodb');
    const expected = await expectedDecision(application, [
      zipcodeRecord(),
      creditRecord(APPLICANT),
    ]);
    expect(body.probability_of_default).toBe(expected.probability);
    expect(response.headers?.['server-timing']).toMatch(/total;dur=/);
  });

  it('decodes a base64 body, and answers 400 / 415 / GET /health like the other runtimes', async () => {
    const encoded = Buffer.from(JSON.stringify(applicationFor(APPLICANT))).toString('base64');
    const ok = await handler(
      functionUrlEvent({
        body: encoded,
        isBase64Encoded: true,
        headers: { ...baseHeaders, ...authorized },
      }),
      lambdaContext,
    );
    expect(ok.statusCode).toBe(200);

    const anonymous = await handler(
      functionUrlEvent({ body: JSON.stringify(applicationFor(APPLICANT)) }),
      lambdaContext,
    );
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers?.['www-authenticate']).toMatch(/^Bearer/);

    const bad = await handler(
      functionUrlEvent({
        body: JSON.stringify({ ...applicationFor(APPLICANT), person_age: 'old' }),
        headers: { ...baseHeaders, ...authorized },
      }),
      lambdaContext,
    );
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).error.fields[0].field).toBe('person_age');

    const text = await handler(
      functionUrlEvent({ body: 'hello', headers: { ...authorized, 'content-type': 'text/plain' } }),
      lambdaContext,
    );
    expect(text.statusCode).toBe(415);

    // Health stays public for load balancers and uptime checks.
    const health = await handler(
      functionUrlEvent({ method: 'GET', path: '/health' }),
      lambdaContext,
    );
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', store: 'dynamodb' });
  });
});

describe('Lambda handler, Redis in front of DynamoDB', () => {
  it('falls back on a Redis miss and refills Redis before the invocation returns', async () => {
    const prefix = `lambda${Date.now()}:`;
    const handler = await importHandler({
      SST_RESOURCE_App: JSON.stringify({ name: 'loan-decision-api', stage: 'test' }),
      SST_RESOURCE_Features: JSON.stringify({ name: table, type: 'sst.aws.Dynamo' }),
      SST_RESOURCE_ApiKeys: JSON.stringify({ value: API_KEY, type: 'sst.sst.Secret' }),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      REDIS_DEADLINE_MS: '500',
      DYNAMODB_DEADLINE_MS: '3000',
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      LOG_LEVEL: 'silent',
    });
    const event = functionUrlEvent({
      body: JSON.stringify(applicationFor(APPLICANT)),
      headers: { ...baseHeaders, ...authorized },
    });
    const first = JSON.parse((await handler(event, lambdaContext)).body);
    expect(first.features).toMatchObject({ served_by: 'dynamodb', fallback_reason: 'miss' });

    // The refill was awaited inside the invocation (Lambda freezes afterwards): Redis has it now.
    const direct = new RedisTcpStore({ url: redis.url, keyPrefix: prefix });
    const { results } = await direct.read(
      [applicationFor(APPLICANT)],
      [creditRecord(APPLICANT).view],
    );
    expect(results[0].credit_history.status).toBe('present');
    await direct.close();

    const second = JSON.parse((await handler(event, lambdaContext)).body);
    expect(second.features.served_by).toBe('redis');
  });
});

describe('Lambda handler start', () => {
  it('starts while the module initializes, and a start that failed there is retried by the first invocation', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      errors.push(String(line));
    });
    try {
      // The model is not there yet: the start during import fails on it.
      const handler = await importHandler({
        ...dynamoDbStage(),
        MODEL_PATH: '/nonexistent/model.onnx',
      });
      expect(errors).toHaveLength(1);
      expect(JSON.parse(errors[0])).toMatchObject({
        level: 'error',
        msg: 'start failed during init; the first invocation retries',
      });
      expect(errors[0]).toContain('/nonexistent/model.onnx');

      // The model arrives; the first invocation starts again instead of replaying the failure.
      delete process.env.MODEL_PATH;
      const response = await handler(
        functionUrlEvent({
          body: JSON.stringify(applicationFor(APPLICANT)),
          headers: { ...baseHeaders, ...authorized },
        }),
        lambdaContext,
      );
      expect(response.statusCode).toBe(200);
      expect(errors).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});
