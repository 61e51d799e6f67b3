import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaterializeDeps, materializeConfigFromEnv } from '../features/materialize/deps.js';
import { materializeIncremental } from '../features/materialize/materialize-incremental.js';
import {
  EXAMPLE_APPLICANT,
  generateSampleTables,
  sampleTableToParquet,
} from '../features/offline/sample-data.js';
import { parseConfig } from '../functions/config.js';
import { createLogger } from '../functions/logger.js';
import { createNodeRuntime } from '../functions/node-runtime.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';

/**
 * ENTITY_KEY_HMAC_SECRET end to end: the materializer writes hashed entity keys, serving with the
 * same secret finds them, and a dump of Redis holds no dob_ssn.
 */

const SECRET = 'hmac-test-secret-0123456789-abcdefghijklmnop';
let redis: RedisServerHandle;
let dir: string;
const tables = generateSampleTables({ loans: 200, zipcodes: 100, seed: 9 });

beforeAll(async () => {
  redis = await startRedisServer();
  dir = await mkdtemp(path.join(tmpdir(), 'hashed-keys-'));
  for (const table of tables) {
    await writeFile(path.join(dir, table.file), new Uint8Array(sampleTableToParquet(table)));
  }
  const deps = await createMaterializeDeps(
    dir,
    materializeConfigFromEnv({ REDIS_URL: redis.url, ENTITY_KEY_HMAC_SECRET: SECRET }),
  );
  try {
    await materializeIncremental(deps, { end: Date.parse('2026-11-01T00:00:00Z') });
  } finally {
    await deps.close();
  }
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function decide(env: Record<string, string>) {
  const logs: string[] = [];
  const runtime = await createNodeRuntime(
    parseConfig({ REDIS_URL: redis.url, REDIS_DEADLINE_MS: '1000', ...env }),
    { logger: createLogger('debug', (line) => logs.push(line)) },
  );
  const response = await runtime.app.request('/loan-decision', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...EXAMPLE_APPLICANT,
      person_age: 40,
      person_income: 59000,
      person_home_ownership: 'RENT',
      person_emp_length: 3,
      loan_intent: 'PERSONAL',
      loan_amnt: 5000,
      loan_int_rate: 9.5,
    }),
  });
  await runtime.close();
  expect(logs.join('\n')).not.toContain(EXAMPLE_APPLICANT.dob_ssn);
  return { status: response.status, body: await response.json() };
}

describe('keyed hashing of entity keys', () => {
  it('serving with the materializer’s secret finds the hashed rows', async () => {
    const { status, body } = await decide({ ENTITY_KEY_HMAC_SECRET: SECRET });
    expect(status).toBe(200);
    expect(body.features.served_by).toBe('redis');
  });

  it('without the secret (or with another) the applicant is not found', async () => {
    for (const env of [{}, { ENTITY_KEY_HMAC_SECRET: `${SECRET}-rotated` }] as Record<
      string,
      string
    >[]) {
      const { status, body } = await decide(env);
      expect(status).toBe(422);
      expect(body.error.feature_views.map((v: { view: string }) => v.view)).toContain(
        'credit_history',
      );
    }
  });

  it('leaves no dob_ssn, birth date or SSN digits in a dump of Redis', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    const dump: string[] = [];
    for await (const keys of client.scanIterator({ COUNT: 500 })) {
      for (const key of keys) {
        dump.push(key);
        if ((await client.type(key)) === 'hash')
          dump.push(JSON.stringify(await client.hGetAll(key)));
      }
    }
    await client.close();
    const text = dump.join('\n');
    expect(dump.length).toBeGreaterThan(10);
    const dobSsns = tables
      .find((t) => t.file === 'credit_history.parquet')!
      .rows.map((r) => String(r.dob_ssn));
    for (const dobSsn of new Set(dobSsns)) expect(text).not.toContain(dobSsn);
  });
});
