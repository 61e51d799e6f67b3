import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { creditHistory, featureViews, zipcodeFeatures } from '../definitions.js';
import { startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import {
  DAY_MS,
  creditRecord,
  uniquePrefix,
  zipcodeRecord,
} from '../../test/harness/feature-records.js';
import { RedisTcpStore, type RedisTcpClient } from './redis-tcp.js';
import { StoreUnavailableError } from './types.js';

/** Methods that do not talk to Redis; every other method call on the client is a round trip. */
const NOT_A_ROUND_TRIP = new Set([
  'connect',
  'on',
  'once',
  'off',
  'removeListener',
  'addListener',
  'emit',
  'close',
  'destroy',
  'multi',
  'MULTI',
]);

/** Counts round trips through the real client: each command call or each pipeline/multi exec. */
function countRoundTrips(client: RedisTcpClient, counter: { roundTrips: number }): RedisTcpClient {
  const countCalls = <T extends object>(target: T, isBatch: boolean): T =>
    new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'multi' || prop === 'MULTI') {
          return (...args: unknown[]) => countCalls(value.apply(t, args), true);
        }
        const sends = isBatch
          ? ['exec', 'EXEC', 'execAsPipeline', 'execTyped', 'execAsPipelineTyped'].includes(
              String(prop),
            )
          : !NOT_A_ROUND_TRIP.has(String(prop));
        return (...args: unknown[]) => {
          if (sends) counter.roundTrips++;
          const result = value.apply(t, args);
          return result === t ? receiverProxy : result;
        };
      },
    });
  const receiverProxy = countCalls(client, false);
  return receiverProxy;
}

let server: RedisServerHandle;
let admin: ReturnType<typeof createClient>;
const NOW = Date.UTC(2025, 0, 15);

beforeAll(async () => {
  server = await startRedisServer();
  admin = createClient({ url: server.url, RESP: 2 });
  admin.on('error', () => {});
  await admin.connect();
});

afterAll(async () => {
  admin?.destroy();
  await server?.stop();
});

async function readsProcessed(): Promise<number> {
  const info = String(await admin.sendCommand(['INFO', 'stats']));
  return Number(/total_reads_processed:(\d+)/.exec(info)?.[1]);
}

describe('RedisTcpStore reads', () => {
  it('reads every view of several applications in ONE round trip', async () => {
    const counter = { roundTrips: 0 };
    const prefix = uniquePrefix();
    const store = new RedisTcpStore({
      url: server.url,
      keyPrefix: prefix,
      wrapClient: (c) => countRoundTrips(c, counter),
    });
    await store.write([
      zipcodeRecord(76104, NOW - DAY_MS),
      zipcodeRecord(30301, NOW - DAY_MS, NOW, { city: 'ATLANTA', state: 'GA' }),
      creditRecord('19630621_4278', NOW - 2 * DAY_MS),
    ]);
    await store.read([{ zipcode: 76104, dob_ssn: 'warmup' }], featureViews); // connection is warm

    counter.roundTrips = 0;
    const before = await readsProcessed();
    const response = await store.read(
      [
        { zipcode: 76104, dob_ssn: '19630621_4278' },
        { zipcode: 30301, dob_ssn: '19991231_0000' },
        { zipcode: 99999, dob_ssn: '19630621_4278' },
      ],
      featureViews,
      { now: NOW },
    );
    const after = await readsProcessed();

    expect(counter.roundTrips).toBe(1);
    // Redis saw one socket read for the store's pipeline, plus the second INFO itself.
    expect(after - before).toBe(2);
    expect(response.servedBy).toBe('redis');
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
    expect(first.credit_history.status).toBe('present');
    expect(first.credit_history.values.mortgage_due).toBe(91_803);
    expect(second.zipcode_features.values.city).toBe('ATLANTA');
    expect(second.credit_history).toEqual({
      status: 'not_found',
      eventTimestamp: null,
      values: {},
    });
    expect(third.zipcode_features.status).toBe('not_found');
    expect(third.credit_history.status).toBe('present');
    await store.close();
  });

  it('reports rows older than the TTL as stale, with their values', async () => {
    const store = new RedisTcpStore({ url: server.url, keyPrefix: uniquePrefix() });
    const old = NOW - zipcodeFeatures.ttlSeconds * 1000 - 1;
    await store.write([zipcodeRecord(10001, old), creditRecord('19800101_1234', NOW - 1)]);
    const { results } = await store.read(
      [{ zipcode: 10001, dob_ssn: '19800101_1234' }],
      featureViews,
      { now: NOW },
    );
    expect(results[0].zipcode_features.status).toBe('stale');
    expect(results[0].zipcode_features.eventTimestamp).toBe(old);
    expect(results[0].zipcode_features.values.population).toBe(16_013);
    expect(results[0].credit_history.status).toBe('present');
    await store.close();
  });

  it('reads only the views asked for, and null values come back null', async () => {
    const store = new RedisTcpStore({ url: server.url, keyPrefix: uniquePrefix() });
    await store.write([creditRecord('19700101_0001', NOW, NOW, { bankruptcies: null })]);
    const { results } = await store.read(
      [{ zipcode: 1, dob_ssn: '19700101_0001' }],
      [creditHistory],
      { now: NOW },
    );
    expect(Object.keys(results[0])).toEqual(['credit_history']);
    expect(results[0].credit_history.values.bankruptcies).toBeNull();
    await store.close();
  });

  it('treats a corrupt stored value as a store fault, naming the field but not the key', async () => {
    const prefix = uniquePrefix();
    const store = new RedisTcpStore({ url: server.url, keyPrefix: prefix });
    await store.write([creditRecord('19550505_5555', NOW)]);
    await admin.hSet(`${prefix}dob_ssn:19550505_5555`, 'credit_history:hard_pulls', 'lots');
    const read = store.read([{ zipcode: 1, dob_ssn: '19550505_5555' }], [creditHistory], {
      now: NOW,
    });
    await expect(read).rejects.toThrow(StoreUnavailableError);
    await expect(read).rejects.toThrow(/credit_history:hard_pulls/);
    await expect(read).rejects.not.toThrow(/19550505/);
    await store.close();
  });

  it('gives up at the deadline when Redis stops answering, and recovers', async () => {
    const store = new RedisTcpStore({ url: server.url, keyPrefix: uniquePrefix() });
    await store.connect();
    await admin.sendCommand(['CLIENT', 'PAUSE', '400', 'ALL']);
    const started = performance.now();
    const read = store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, {
      signal: AbortSignal.timeout(30),
    });
    await expect(read).rejects.toThrow(/deadline exceeded/);
    expect(performance.now() - started).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 450));
    const { results } = await store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews);
    expect(results[0].zipcode_features.status).toBe('not_found');
    await store.close();
  });

  it('fails fast while Redis is down and reconnects by itself when it returns', async () => {
    const own = await startRedisServer();
    const store = new RedisTcpStore({ url: own.url, keyPrefix: uniquePrefix() });
    await store.write([zipcodeRecord(1, NOW)]);
    await own.kill();
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await expect(store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews)).rejects.toThrow(
      StoreUnavailableError,
    );
    expect(performance.now() - started).toBeLessThan(100);
    await own.restart();
    await expect
      .poll(
        () =>
          store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews).then(
            () => true,
            () => false,
          ),
        { timeout: 5_000, interval: 50 },
      )
      .toBe(true);
    await store.close();
    await own.stop();
  });

  it('fails a first read within the deadline when nothing listens', async () => {
    const store = new RedisTcpStore({ url: 'redis://127.0.0.1:1', keyPrefix: uniquePrefix() });
    const read = store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, {
      signal: AbortSignal.timeout(50),
    });
    await expect(read).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
  it('with keyed hashing, reads back what it wrote and stores no dob_ssn in keys', async () => {
    const prefix = uniquePrefix();
    const encodeEntityKey = (entity: string, key: string) =>
      createHmac('sha256', 'secret').update(`${entity}:${key}`).digest('base64url');
    const store = new RedisTcpStore({ url: server.url, keyPrefix: prefix, encodeEntityKey });
    await store.write([creditRecord('19630621_4278', NOW, NOW, { hard_pulls: 9 })]);
    const { results } = await store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews, {
      now: NOW,
    });
    expect(results[0].credit_history.values.hard_pulls).toBe(9);
    const keys = await admin.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('19630621');
    await store.close();
  });
});

describe('RedisTcpStore writes', () => {
  it('never replaces a newer row; ties on event time go to the later created time', async () => {
    const prefix = uniquePrefix();
    const store = new RedisTcpStore({ url: server.url, keyPrefix: prefix });
    const key = '19630621_4278';
    expect(await store.write([creditRecord(key, 1_000, 10, { hard_pulls: 1 })])).toEqual({
      written: 1,
      skippedNotNewer: 0,
    });
    expect(await store.write([creditRecord(key, 900, 99, { hard_pulls: 2 })])).toEqual({
      written: 0,
      skippedNotNewer: 1,
    });
    expect(await store.write([creditRecord(key, 1_000, 5, { hard_pulls: 3 })])).toEqual({
      written: 0,
      skippedNotNewer: 1,
    });
    expect(await store.write([creditRecord(key, 1_000, 10, { hard_pulls: 4 })])).toEqual({
      written: 0,
      skippedNotNewer: 1,
    });
    expect(await store.write([creditRecord(key, 1_000, 11, { hard_pulls: 5 })])).toEqual({
      written: 1,
      skippedNotNewer: 0,
    });
    expect(
      await store.write([creditRecord(key, 2_000, 0, { hard_pulls: 6, bankruptcies: null })]),
    ).toEqual({ written: 1, skippedNotNewer: 0 });
    const stored = await admin.hGetAll(`${prefix}dob_ssn:${key}`);
    expect(stored['credit_history:hard_pulls']).toBe('6');
    expect(stored['credit_history:_event_ts']).toBe('2000');
    expect(stored['credit_history:_created_ts']).toBe('0');
    expect('credit_history:bankruptcies' in stored).toBe(false);
    await store.close();
  });

  it('writes many records in pipelined batches, sets the key TTL, and survives a script flush', async () => {
    const prefix = uniquePrefix();
    const store = new RedisTcpStore({
      url: server.url,
      keyPrefix: prefix,
      keyTtlMs: 60_000,
      writeBatchSize: 100,
    });
    const records = Array.from({ length: 450 }, (_, i) => zipcodeRecord(10_000 + i, NOW));
    expect(await store.write(records)).toEqual({ written: 450, skippedNotNewer: 0 });
    const ttl = Number(await admin.pTTL(`${prefix}zipcode:10449`));
    expect(ttl).toBeGreaterThan(50_000);
    await admin.sendCommand(['SCRIPT', 'FLUSH']);
    const newer = records.map((r) => ({ ...r, eventTimestamp: NOW + 1 }));
    expect(await store.write([...newer.slice(0, 10), ...records.slice(10, 20)])).toEqual({
      written: 10,
      skippedNotNewer: 10,
    });
    await store.close();
  });
});
