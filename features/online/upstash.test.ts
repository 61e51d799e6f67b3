import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from 'redis';
import { featureViews, zipcodeFeatures } from '../definitions.js';
import { startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../../test/harness/upstash-bridge.js';
import {
  DAY_MS,
  creditRecord,
  uniquePrefix,
  zipcodeRecord,
} from '../../test/harness/feature-records.js';
import { RedisTcpStore } from './redis-tcp.js';
import { NodeHttpUpstashRequester } from './upstash-node-http.js';
import { UpstashStore, type UpstashStoreConfig } from './upstash.js';
import { StoreUnavailableError } from './types.js';

let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let admin: ReturnType<typeof createClient>;
const NOW = Date.UTC(2025, 0, 15);
const TOKEN = 'test-token';

beforeAll(async () => {
  redis = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN });
  admin = createClient({ url: redis.url, RESP: 2 });
  await admin.connect();
});

afterAll(async () => {
  admin?.destroy();
  await bridge?.stop();
  await redis?.stop();
});

// Every test runs over the library's own HTTP client (fetch) and over node:http (the transport
// the Node and Lambda runtimes use).
const TRANSPORTS: Array<[string, UpstashStoreConfig['transport']]> = [
  ['fetch', undefined],
  ['node:http', (options) => new NodeHttpUpstashRequester(options)],
];

describe.each(TRANSPORTS)('over %s', (_name, transport) => {
  const upstash = (config: Partial<UpstashStoreConfig> = {}) =>
    new UpstashStore({
      url: bridge.url,
      token: TOKEN,
      keyPrefix: uniquePrefix(),
      transport,
      ...config,
    });

  describe.each([{ encoding: 'base64' as const }, { encoding: false as const }])(
    'UpstashStore (responseEncoding $encoding)',
    ({ encoding }) => {
      it('reads every view of several applications in ONE HTTP request', async () => {
        const prefix = uniquePrefix();
        const store = upstash({ keyPrefix: prefix, responseEncoding: encoding });
        await store.write([
          zipcodeRecord(76104, NOW - DAY_MS, NOW, { city: 'FORT WORTH ÅØ ✓' }),
          creditRecord('19630621_4278', NOW - 2 * DAY_MS),
          zipcodeRecord(10001, NOW - zipcodeFeatures.ttlSeconds * 1000 - 1),
        ]);
        bridge.requests = 0;
        const response = await store.read(
          [
            { zipcode: 76104, dob_ssn: '19630621_4278' },
            { zipcode: 10001, dob_ssn: '20000101_0000' },
          ],
          featureViews,
          { now: NOW },
        );
        expect(bridge.requests).toBe(1);
        expect(response.servedBy).toBe('upstash');
        const [first, second] = response.results;
        expect(first.zipcode_features).toEqual({
          status: 'present',
          eventTimestamp: NOW - DAY_MS,
          values: {
            city: 'FORT WORTH ÅØ ✓',
            state: 'TX',
            location_type: 'PRIMARY',
            tax_returns_filed: 9_260,
            population: 16_013,
            total_wages: 203_102_512,
          },
        });
        expect(first.credit_history.values.credit_card_due).toBe(8_419);
        expect(second.zipcode_features.status).toBe('stale');
        expect(second.credit_history.status).toBe('not_found');
      });

      it('shares the layout with Redis over TCP (what one writes the other reads)', async () => {
        const prefix = uniquePrefix();
        const tcp = new RedisTcpStore({ url: redis.url, keyPrefix: prefix });
        await tcp.write([creditRecord('19630621_4278', NOW, NOW, { hard_pulls: 7 })]);
        const store = upstash({ keyPrefix: prefix, responseEncoding: encoding });
        const { results } = await store.read(
          [{ zipcode: 1, dob_ssn: '19630621_4278' }],
          featureViews,
          { now: NOW },
        );
        expect(results[0].credit_history.values.hard_pulls).toBe(7);
        await tcp.close();
      });

      it('protects newer values, ties going to the later created time', async () => {
        const prefix = uniquePrefix();
        const store = upstash({ keyPrefix: prefix, responseEncoding: encoding, keyTtlMs: 60_000 });
        expect(await store.write([zipcodeRecord(1, 1_000, 10)])).toEqual({
          written: 1,
          skippedNotNewer: 0,
        });
        expect(
          await store.write([
            zipcodeRecord(1, 999, 50),
            zipcodeRecord(1, 1_000, 10),
            zipcodeRecord(2, 5, 5),
          ]),
        ).toEqual({ written: 1, skippedNotNewer: 2 });
        expect(await store.write([zipcodeRecord(1, 1_000, 11, { population: 1 })])).toEqual({
          written: 1,
          skippedNotNewer: 0,
        });
        expect(await admin.hGet(`${prefix}zipcode:1`, 'zipcode_features:population')).toBe('1');
        expect(Number(await admin.pTTL(`${prefix}zipcode:1`))).toBeGreaterThan(50_000);
      });
    },
  );

  describe('UpstashStore writes and faults', () => {
    it('splits large writes into requests under the size bound, and survives a script flush', async () => {
      const prefix = uniquePrefix();
      const store = upstash({ keyPrefix: prefix, writeBatchMaxBytes: 20_000 });
      const records = Array.from({ length: 300 }, (_, i) => zipcodeRecord(20_000 + i, NOW));
      bridge.requests = 0;
      expect(await store.write(records)).toEqual({ written: 300, skippedNotNewer: 0 });
      expect(bridge.requests).toBeGreaterThan(5); // ~120 bytes of arguments per record
      await admin.sendCommand(['SCRIPT', 'FLUSH']);
      expect(await store.write([{ ...records[0], eventTimestamp: NOW + 1 }])).toEqual({
        written: 1,
        skippedNotNewer: 0,
      });
    });

    it.each([
      ['an HTTP 500', 'http500' as const],
      ['a garbage body', 'garbage' as const],
    ])('turns %s into StoreUnavailableError without quoting keys', async (_, fault) => {
      const store = upstash();
      bridge.fault = fault;
      try {
        const read = store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews);
        await expect(read).rejects.toThrow(StoreUnavailableError);
        await expect(read).rejects.not.toThrow(/19630621/);
      } finally {
        bridge.fault = 'none';
      }
    });

    it('rejects a wrong token as a store fault without leaking the request body', async () => {
      const store = upstash({ token: 'wrong' });
      const read = store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews);
      await expect(read).rejects.toThrow(/Unauthorized/);
      await expect(read).rejects.not.toThrow(/19630621/);
    });

    it('fails at the deadline when the REST endpoint hangs, and aborts the HTTP request', async () => {
      const { createServer } = await import('node:http');
      let closedSockets = 0;
      const hung = createServer((req) => req.socket.once('close', () => closedSockets++));
      await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
      const port = (hung.address() as { port: number }).port;
      const store = upstash({ url: `http://127.0.0.1:${port}` });
      const started = performance.now();
      await expect(
        store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, {
          signal: AbortSignal.timeout(50),
        }),
      ).rejects.toThrow(/deadline exceeded/);
      expect(performance.now() - started).toBeLessThan(500);
      // The request itself was aborted (not left hanging behind the race).
      await expect.poll(() => closedSockets, { timeout: 2_000 }).toBe(1);
      hung.closeAllConnections();
      await new Promise((r) => hung.close(r));
    });
  });
});

describe('NodeHttpUpstashRequester', () => {
  it('carries every call of the store: no fetch at all', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    let calls = 0;
    try {
      const store = new UpstashStore({
        url: bridge.url,
        token: TOKEN,
        keyPrefix: uniquePrefix(),
        transport: (options) => {
          const requester = new NodeHttpUpstashRequester(options);
          const request = requester.request.bind(requester);
          requester.request = (req) => (calls++, request(req));
          return requester;
        },
      });
      await store.write([creditRecord('19630621_4278', NOW - DAY_MS)]);
      const read = await store.read([{ zipcode: 1, dob_ssn: '19630621_4278' }], featureViews, {
        now: NOW,
      });
      expect(read.results[0].credit_history.status).toBe('present');
      // SCRIPT LOAD, the write's pipeline, the read's pipeline.
      expect(calls).toBe(3);
      expect(fetchSpy).not.toHaveBeenCalled();
      await store.close();
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it('decodes base64 results as @upstash/redis does', async () => {
    const requester = new NodeHttpUpstashRequester({ url: bridge.url, token: TOKEN });
    const key = `${uniquePrefix()}:h`;
    await admin.hSet(key, { a: 'ÅØ ✓', c: '12' });
    const answer = await requester.request({
      path: ['pipeline'],
      body: [
        ['HMGET', key, 'a', 'c', 'd'],
        ['HLEN', key],
        ['SET', `${key}:s`, 'ÅØ'],
        ['GET', `${key}:s`],
      ],
    });
    // Strings decoded (UTF-8), numbers and nulls as they are, the "OK" status left alone.
    expect(answer).toEqual([
      { result: ['ÅØ ✓', '12', null] },
      { result: 2 },
      { result: 'OK' },
      { result: 'ÅØ' },
    ]);
    const single = await requester.request({ body: ['GET', `${key}:s`] });
    expect(single).toEqual({ result: 'ÅØ' });
    requester.destroy();
  });
});
