import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { featureViews, zipcodeFeatures } from '../definitions.js';
import { startDynalite, type DynaliteHandle } from '../../test/harness/dynalite.js';
import { freePort } from '../../test/harness/free-port.js';
import {
  DAY_MS,
  creditRecord,
  uniquePrefix,
  zipcodeRecord,
} from '../../test/harness/feature-records.js';
import { FetchDynamoDbApi, type DynamoDbApi } from './dynamodb-api.js';
import { SdkDynamoDbApi } from './dynamodb-sdk-api.js';
import { DynamoDbApiStore, DynamoDbStore, createDynamoDbTable } from './dynamodb.js';
import { StoreUnavailableError } from './types.js';

let dynalite: DynaliteHandle;
let admin: DynamoDBClient;
const NOW = Date.UTC(2025, 0, 15);
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  dynalite = await startDynalite();
  admin = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials });
});

afterAll(async () => {
  admin?.destroy();
  await dynalite?.stop();
});

/** Both implementations of the boundary run the same store tests against real dynalite. */
const implementations: Record<string, (endpoint: string) => DynamoDbApi> = {
  'AWS SDK': (endpoint) =>
    new SdkDynamoDbApi(new DynamoDBClient({ endpoint, region: 'us-east-1', credentials })),
  'fetch + aws4fetch': (endpoint) =>
    new FetchDynamoDbApi({ endpoint, region: 'us-east-1', credentials }),
};

/** The real API, with every call counted by operation (a Proxy spy, not a fake). */
function countingApi(api: DynamoDbApi) {
  const calls: string[] = [];
  const counted = new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { api: counted, calls };
}

describe.each(Object.entries(implementations))('DynamoDbApiStore over %s', (_, makeApi) => {
  async function newStore() {
    const { api, calls: sends } = countingApi(makeApi(dynalite.endpoint));
    const store = new DynamoDbApiStore({
      tableName: uniquePrefix('online').replace(/:/g, '-').slice(0, -1),
      api,
    });
    await createDynamoDbTable(admin, store.tableName);
    return { store, sends };
  }

  describe('reads', () => {
    it('reads every view of several applications in ONE BatchGetItem, with statuses', async () => {
      const { store, sends } = await newStore();
      await store.write([
        zipcodeRecord(76104, NOW - DAY_MS),
        zipcodeRecord(10001, NOW - zipcodeFeatures.ttlSeconds * 1000 - 1, 0, { city: null }),
        creditRecord('19630621_4278', NOW - 2 * DAY_MS),
      ]);
      sends.length = 0;
      const response = await store.read(
        [
          { zipcode: 76104, dob_ssn: '19630621_4278' },
          { zipcode: 10001, dob_ssn: '20000101_0000' },
          { zipcode: 76104, dob_ssn: '19630621_4278' }, // duplicate keys are legal in a request
        ],
        featureViews,
        { now: NOW },
      );
      expect(sends).toEqual(['batchGetItem']);
      expect(response.servedBy).toBe('dynamodb');
      const [first, second, third] = response.results;
      expect(first.zipcode_features).toEqual({
        status: 'present',
        eventTimestamp: NOW - DAY_MS,
        values: {
          city: 'FORT WORTH',
          state: 'TX',
          location_type: 'PRIMARY',
          tax_returns_filed: 9_260,
          population: 16_013,
          total_wages: 203_102_512,
        },
      });
      expect(first.credit_history.values.mortgage_due).toBe(91_803);
      expect(second.zipcode_features.status).toBe('stale');
      expect(second.zipcode_features.values.city).toBeNull();
      expect(second.credit_history).toEqual({
        status: 'not_found',
        eventTimestamp: null,
        values: {},
      });
      expect(third).toEqual(first);
    });

    it('splits more than 100 keys into concurrent calls of at most 100', async () => {
      const { store, sends } = await newStore();
      await store.write(Array.from({ length: 60 }, (_, i) => zipcodeRecord(i + 1, NOW)));
      sends.length = 0;
      const applications = Array.from({ length: 60 }, (_, i) => ({
        zipcode: i + 1,
        dob_ssn: `19000101_${i}`,
      }));
      const { results } = await store.read(applications, featureViews, { now: NOW });
      expect(sends).toEqual(['batchGetItem', 'batchGetItem']);
      expect(results.every((r) => r.zipcode_features.status === 'present')).toBe(true);
      expect(results[59].credit_history.status).toBe('not_found');
    });

    it('retries UnprocessedKeys until every item is read', async () => {
      const { store, sends } = await newStore();
      // dynalite, like DynamoDB, stops a BatchGetItem response after ~1 MB: big items provoke it.
      const big = 'x'.repeat(300_000);
      const zipcodes = [1, 2, 3, 4, 5, 6];
      await store.write(zipcodes.map((z) => zipcodeRecord(z, NOW, NOW, { city: `${z}${big}` })));
      sends.length = 0;
      const { results } = await store.read(
        zipcodes.map((zipcode) => ({ zipcode, dob_ssn: 'x' })),
        [zipcodeFeatures],
        {
          now: NOW,
          signal: AbortSignal.timeout(5_000),
        },
      );
      expect(sends.length).toBeGreaterThan(1);
      expect(sends.every((s) => s === 'batchGetItem')).toBe(true);
      results.forEach((r, i) =>
        expect(r.zipcode_features.values.city).toBe(`${zipcodes[i]}${big}`),
      );
    });

    it('fails with StoreUnavailableError for a missing table, and at the deadline', async () => {
      const missing = new DynamoDbApiStore({
        tableName: 'no-such-table',
        api: makeApi(dynalite.endpoint),
      });
      const read = missing.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews);
      await expect(read).rejects.toThrow(StoreUnavailableError);
      await expect(read).rejects.toThrow(
        /BatchGetItem on table "no-such-table" failed: ResourceNotFoundException/,
      );
      const aborted = missing.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, {
        signal: AbortSignal.abort(),
      });
      await expect(aborted).rejects.toThrow(StoreUnavailableError);
    });

    it('fails with StoreUnavailableError when nothing listens at the endpoint', async () => {
      const down = new DynamoDbApiStore({
        tableName: 'online',
        api: makeApi(`http://127.0.0.1:${await freePort()}`), // connection refused
      });
      await expect(
        down.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, {
          signal: AbortSignal.timeout(2_000),
        }),
      ).rejects.toThrow(StoreUnavailableError);
    });
  });

  describe('writes', () => {
    it('never replaces a newer row; ties on event time go to the later created time', async () => {
      const { store, sends } = await newStore();
      const key = '19630621_4278';
      expect(await store.write([creditRecord(key, 1_000, 10, { hard_pulls: 1 })])).toEqual({
        written: 1,
        skippedNotNewer: 0,
      });
      expect(await store.write([creditRecord(key, 900, 99, { hard_pulls: 2 })])).toEqual({
        written: 0,
        skippedNotNewer: 1,
      });
      expect(await store.write([creditRecord(key, 1_000, 10, { hard_pulls: 3 })])).toEqual({
        written: 0,
        skippedNotNewer: 1,
      });
      expect(
        await store.write([
          creditRecord(key, 1_000, 11, { hard_pulls: 4 }),
          creditRecord(key, 1_000, 12, { hard_pulls: 5 }),
          creditRecord(key, 999, 99),
        ]),
      ).toEqual({ written: 2, skippedNotNewer: 1 });
      const { Item } = await admin.send(
        new GetItemCommand({ TableName: store.tableName, Key: { pk: { S: `dob_ssn#${key}` } } }),
      );
      expect(Item?.['credit_history:hard_pulls']).toEqual({ N: '5' });
      expect(Item?.['credit_history:_event_ts']).toEqual({ N: '1000' });
      expect(Item?.['credit_history:_created_ts']).toEqual({ N: '12' });
      sends.length = 0;
      expect(await store.write([creditRecord(key, 1, 1)])).toEqual({
        written: 0,
        skippedNotNewer: 1,
      });
      expect(sends).toEqual(['batchGetItem']); // nothing newer: no write call at all
    });

    it('writes in BatchWriteItem calls of at most 25 items', async () => {
      const { store, sends } = await newStore();
      const records = Array.from({ length: 120 }, (_, i) => zipcodeRecord(50_000 + i, NOW));
      expect(await store.write(records)).toEqual({ written: 120, skippedNotNewer: 0 });
      expect(sends.filter((s) => s === 'batchWriteItem')).toHaveLength(5);
      expect(sends.filter((s) => s === 'batchGetItem')).toHaveLength(2);
      const { results } = await store.read([{ zipcode: 50_119, dob_ssn: 'x' }], [zipcodeFeatures], {
        now: NOW,
      });
      expect(results[0].zipcode_features.status).toBe('present');
    });
  });
});

describe('DynamoDbStore (the SDK-client form Node and Lambda build)', () => {
  it('keeps the `client` config: one BatchGetItem through client.send per read', async () => {
    const client = new DynamoDBClient({
      endpoint: dynalite.endpoint,
      region: 'us-east-1',
      credentials,
    });
    const sends: string[] = [];
    const send = client.send.bind(client);
    client.send = ((command: { constructor: { name: string } }, ...rest: unknown[]) => {
      sends.push(command.constructor.name);
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof client.send;
    const store = new DynamoDbStore({ tableName: 'sdk-form', client });
    await store.createTable();
    await store.write([creditRecord('19630621_4278', NOW)]);
    sends.length = 0;
    const { results } = await store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews, {
      now: NOW,
    });
    expect(sends).toEqual(['BatchGetItemCommand']);
    expect(results[0].credit_history.status).toBe('present');
    await store.close();
    client.destroy();
  });

  it("its own client gives up on a DynamoDB that never answers after 1 s, so abandoned reads don't pile up", async () => {
    // Accepts connections, never answers: reads the fallback raced and abandoned must still end.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const store = new DynamoDbStore({
      tableName: 'silent',
      clientConfig: {
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
      },
    });
    try {
      const started = performance.now();
      await expect(
        store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews),
      ).rejects.toThrow(StoreUnavailableError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(990);
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('builds its own client from clientConfig and closes it', async () => {
    const store = new DynamoDbStore({
      tableName: 'sdk-form',
      clientConfig: { endpoint: dynalite.endpoint, region: 'us-east-1', credentials },
    });
    const { results } = await store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews, {
      now: NOW,
    });
    expect(results[0].credit_history.status).toBe('present');
    await store.close();
  });
});
