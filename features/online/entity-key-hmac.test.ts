import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureViews } from '../definitions.js';
import { startDynalite, type DynaliteHandle } from '../../test/harness/dynalite.js';
import { creditRecord, uniquePrefix, zipcodeRecord } from '../../test/harness/feature-records.js';
import { startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../../test/harness/upstash-bridge.js';
import { DynamoDbStore, createDynamoDbTable } from './dynamodb.js';
import { EntityKeySecretError, createHmacEntityKeyEncoder } from './entity-key-hmac.js';
import { RedisTcpStore } from './redis-tcp.js';
import type { EntityKeyEncoder } from './key-layout.js';
import type { OnlineStore } from './types.js';
import { UpstashStore } from './upstash.js';

/**
 * Keyed hashing end to end over the real stores: what one store instance writes with a secret,
 * another instance with the same secret reads; without it (or with another secret) the applicant
 * is not found; and a raw dump of Redis and of the DynamoDB table contains no test dob_ssn.
 */

const SECRET = 'test-secret-0123456789abcdef-0123456789abcdef';
const OTHER_SECRET = 'other-secret-0123456789abcdef-0123456789abcdef';
const NOW = Date.UTC(2026, 0, 15);
const APPLICANTS = ['19630621_4278', '19800105_1005', '20010911_0001'];
const ZIPCODE = 76104;

let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let dynalite: DynaliteHandle;
let dynamoClient: DynamoDBClient;
const table = `hmac-${Date.now()}`;

beforeAll(async () => {
  [redis, dynalite] = await Promise.all([startRedisServer(), startDynalite()]);
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'hmac-test-token' });
  dynamoClient = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await createDynamoDbTable(dynamoClient, table);
});

afterAll(async () => {
  dynamoClient?.destroy();
  await bridge?.stop();
  await Promise.all([redis?.stop(), dynalite?.stop()]);
});

const records = () => [
  zipcodeRecord(ZIPCODE, NOW),
  ...APPLICANTS.map((dobSsn) => creditRecord(dobSsn, NOW)),
];

async function creditStatuses(store: OnlineStore) {
  const { results } = await store.read(
    APPLICANTS.map((dob_ssn) => ({ zipcode: ZIPCODE, dob_ssn })),
    featureViews,
    { now: NOW },
  );
  return results.map((r) => r.credit_history.status);
}

/** Everything in Redis: every key name and every field and value of every hash. */
async function dumpRedis(): Promise<string> {
  const admin = createClient({ url: redis.url, RESP: 2 });
  await admin.connect();
  const parts: string[] = [];
  try {
    for await (const keys of admin.scanIterator({ COUNT: 1000 })) {
      for (const key of keys) {
        parts.push(key, JSON.stringify(await admin.hGetAll(key)));
      }
    }
  } finally {
    admin.destroy();
  }
  return parts.join('\n');
}

async function dumpDynamo(): Promise<string> {
  const items: unknown[] = [];
  let ExclusiveStartKey: Record<string, never> | undefined;
  do {
    const page = await dynamoClient.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey as typeof ExclusiveStartKey;
  } while (ExclusiveStartKey);
  return JSON.stringify(items);
}

type StoreFactory = (encodeEntityKey: EntityKeyEncoder | undefined) => OnlineStore;

describe.each<[string, () => StoreFactory]>([
  [
    'RedisTcpStore',
    () => {
      const keyPrefix = uniquePrefix('hmac-tcp');
      return (encodeEntityKey) => new RedisTcpStore({ url: redis.url, keyPrefix, encodeEntityKey });
    },
  ],
  [
    'UpstashStore',
    () => {
      const keyPrefix = uniquePrefix('hmac-upstash');
      return (encodeEntityKey) =>
        new UpstashStore({ url: bridge.url, token: bridge.token, keyPrefix, encodeEntityKey });
    },
  ],
  [
    'DynamoDbStore',
    () => (encodeEntityKey) =>
      new DynamoDbStore({ tableName: table, client: dynamoClient, encodeEntityKey }),
  ],
])('%s with an HMAC entity-key encoder', (_name, factory) => {
  it('reads back with the same secret, finds nothing with another or none', async () => {
    const storeWith = factory();
    const writer = storeWith(createHmacEntityKeyEncoder(SECRET));
    await writer.write(records());

    const reader = storeWith(createHmacEntityKeyEncoder(SECRET));
    const other = storeWith(createHmacEntityKeyEncoder(OTHER_SECRET));
    const plain = storeWith(undefined);
    try {
      expect(await creditStatuses(reader)).toEqual(APPLICANTS.map(() => 'present'));
      expect(await creditStatuses(other)).toEqual(APPLICANTS.map(() => 'not_found'));
      expect(await creditStatuses(plain)).toEqual(APPLICANTS.map(() => 'not_found'));
      // ZIP codes are not hashed by default, so every reader still finds the zipcode row.
      const { results } = await plain.read(
        [{ zipcode: ZIPCODE, dob_ssn: APPLICANTS[0] }],
        featureViews,
        { now: NOW },
      );
      expect(results[0].zipcode_features.status).toBe('present');
    } finally {
      await Promise.all([writer, reader, other, plain].map((s) => s.close?.()));
    }
  });
});

describe('a dump of the stores', () => {
  it('contains no test dob_ssn, not even its date or SSN digits, in keys, fields or values', async () => {
    // The describe.each blocks above wrote through all three stores; write once more here so
    // this test stands on its own when run alone.
    const encodeEntityKey = createHmacEntityKeyEncoder(SECRET);
    const stores = [
      new RedisTcpStore({ url: redis.url, keyPrefix: uniquePrefix('dump'), encodeEntityKey }),
      new DynamoDbStore({ tableName: table, client: dynamoClient, encodeEntityKey }),
    ];
    for (const store of stores) await store.write(records());
    await Promise.all(stores.map((s) => s.close?.()));

    const [redisDump, dynamoDump] = await Promise.all([dumpRedis(), dumpDynamo()]);
    expect(redisDump).toContain(`dob_ssn:`); // the dump is real: hashed credit rows are there
    expect(dynamoDump).toContain('dob_ssn#');
    for (const dump of [redisDump, dynamoDump]) {
      for (const dobSsn of APPLICANTS) {
        const [date, ssn4] = dobSsn.split('_');
        expect(dump).not.toContain(dobSsn);
        expect(dump).not.toContain(date);
        expect(dump).not.toContain(`_${ssn4}`);
      }
    }
  });
});

describe('createHmacEntityKeyEncoder', () => {
  it('is deterministic per secret and entity, and distinct across secrets and entities', () => {
    const encode = createHmacEntityKeyEncoder(SECRET);
    const again = createHmacEntityKeyEncoder(new TextEncoder().encode(SECRET));
    const other = createHmacEntityKeyEncoder(OTHER_SECRET);
    const id = encode('dob_ssn', APPLICANTS[0]);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(again('dob_ssn', APPLICANTS[0])).toBe(id);
    expect(other('dob_ssn', APPLICANTS[0])).not.toBe(id);
    expect(encode('dob_ssn', APPLICANTS[1])).not.toBe(id);

    const both = createHmacEntityKeyEncoder(SECRET, {
      entities: ['dob_ssn', 'zipcode'],
      encoding: 'hex',
    });
    expect(both('zipcode', '76104')).toMatch(/^[0-9a-f]{64}$/);
    expect(both('zipcode', '76104')).not.toBe(both('dob_ssn', '76104'));
    expect(encode('zipcode', '76104')).toBe('76104');
  });

  it('rejects a short secret, naming the setting and never echoing the secret', () => {
    const weak = 'short-secret-value';
    expect(() => createHmacEntityKeyEncoder(weak)).toThrow(EntityKeySecretError);
    try {
      createHmacEntityKeyEncoder(weak);
    } catch (error) {
      expect((error as Error).message).toContain('ENTITY_KEY_HMAC_SECRET');
      expect((error as Error).message).not.toContain(weak);
    }
  });
});
