import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { featureViews } from '../definitions.js';
import { startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import { startDynalite, type DynaliteHandle } from '../../test/harness/dynalite.js';
import { creditRecord, uniquePrefix, zipcodeRecord } from '../../test/harness/feature-records.js';
import { DynamoDbStore } from './dynamodb.js';
import { FallbackStore, type FallbackStoreConfig } from './fallback.js';
import { RedisTcpStore } from './redis-tcp.js';
import { UpstashStore } from './upstash.js';
import { startUpstashBridge } from '../../test/harness/upstash-bridge.js';
import { startTcpProxy } from '../../test/support/load.js';
import type { StoreLogger } from './store-support.js';
import { StoreUnavailableError, type OnlineStore } from './types.js';

const NOW = Date.UTC(2025, 0, 15);
const APPLICANT = { zipcode: 76104, dob_ssn: '19630621_4278' };
const OTHER = { zipcode: 30301, dob_ssn: '19711111_1111' };
/** Generous deadlines: the machine is shared, and these tests are about behaviour, not speed. */
const DEADLINES: FallbackStoreConfig = { primaryDeadlineMs: 200, secondaryDeadlineMs: 2_000 };

let redis: RedisServerHandle;
let dynalite: DynaliteHandle;
let dynamo: DynamoDbStore;
let admin: ReturnType<typeof createClient>;
const logs: Record<string, unknown>[] = [];
const logger: StoreLogger = {
  info: (o) => logs.push({ level: 'info', ...o }),
  warn: (o) => logs.push({ level: 'warn', ...o }),
  error: (o) => logs.push({ level: 'error', ...o }),
};
const opened: OnlineStore[] = [];

beforeAll(async () => {
  [redis, dynalite] = await Promise.all([startRedisServer(), startDynalite()]);
  admin = createClient({ url: redis.url, RESP: 2 });
  admin.on('error', () => {});
  await admin.connect();
  dynamo = new DynamoDbStore({
    tableName: 'online-fallback',
    clientConfig: {
      endpoint: dynalite.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    },
  });
  await dynamo.createTable();
  await dynamo.write([
    zipcodeRecord(APPLICANT.zipcode, NOW - 1_000),
    creditRecord(APPLICANT.dob_ssn, NOW - 2_000, NOW - 500),
    zipcodeRecord(OTHER.zipcode, NOW - 1_000, NOW, { city: 'ATLANTA' }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(opened.map((s) => s.close?.()));
  admin?.destroy();
  await dynamo?.close();
  await Promise.allSettled([redis?.stop(), dynalite?.stop()]);
  // dob_ssn is PII: no log line of any path may carry one.
  const text = JSON.stringify(logs);
  expect(text).not.toContain(APPLICANT.dob_ssn);
  expect(text).not.toContain(OTHER.dob_ssn);
});

/** The test table through a TCP proxy in front of dynalite, to delay its answers. */
async function dynamoBehindProxy() {
  const proxy = await startTcpProxy(Number(new URL(dynalite.endpoint).port));
  const store = new DynamoDbStore({
    tableName: 'online-fallback',
    clientConfig: {
      endpoint: `http://127.0.0.1:${proxy.port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    },
  });
  return { proxy, store };
}

/** DynamoDB that is down: nothing listens at its endpoint (connection refused), no retries. */
function deadDynamo() {
  const store = new DynamoDbStore({
    tableName: 'online-fallback',
    clientConfig: {
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
      maxAttempts: 1,
    },
  });
  opened.push(store);
  return store;
}

function redisStore(url = redis.url, keyPrefix = uniquePrefix()) {
  const store = new RedisTcpStore({ url, keyPrefix, logger });
  opened.push(store);
  return store;
}

describe('FallbackStore', () => {
  it('answers from the primary alone when it has every view', async () => {
    const primary = redisStore();
    await primary.write([
      zipcodeRecord(APPLICANT.zipcode, NOW, NOW, { city: 'FROM REDIS' }),
      creditRecord(APPLICANT.dob_ssn, NOW),
    ]);
    const store = new FallbackStore(primary, dynamo, { ...DEADLINES, logger });
    const response = await store.read([APPLICANT], featureViews, { now: NOW });
    expect(response.servedBy).toBe('redis');
    expect(response.fallbackReason).toBeUndefined();
    expect(response.pending).toBeUndefined();
    expect(response.results[0].zipcode_features.values.city).toBe('FROM REDIS');
  });

  it('on a miss, merges the secondary answer and refills the primary in the background', async () => {
    const prefix = uniquePrefix();
    const primary = redisStore(redis.url, prefix);
    await primary.write([zipcodeRecord(APPLICANT.zipcode, NOW, NOW, { city: 'FROM REDIS' })]);
    const store = new FallbackStore(primary, dynamo, { ...DEADLINES, logger });

    const response = await store.read([APPLICANT, OTHER], featureViews, { now: NOW });
    expect(response.fallbackReason).toBe('miss');
    expect(response.servedBy).toBe('redis+dynamodb');
    const [applicant, other] = response.results;
    expect(applicant.zipcode_features.values.city).toBe('FROM REDIS'); // primary hit kept
    expect(applicant.credit_history.status).toBe('present');
    expect(applicant.credit_history.eventTimestamp).toBe(NOW - 2_000);
    expect(other.zipcode_features.values.city).toBe('ATLANTA');
    expect(other.credit_history.status).toBe('not_found'); // in neither store
    expect(response.pending).toBeInstanceOf(Promise);

    await response.pending;
    const refilled = await admin.hGetAll(`${prefix}dob_ssn:${APPLICANT.dob_ssn}`);
    expect(refilled['credit_history:mortgage_due']).toBe('91803');
    expect(refilled['credit_history:_event_ts']).toBe(String(NOW - 2_000));
    const again = await store.read([APPLICANT], featureViews, { now: NOW });
    expect(again).toMatchObject({ servedBy: 'redis' });
    expect(again.fallbackReason).toBeUndefined();
  });

  it('a refill never overwrites a newer row that reached the primary meanwhile', async () => {
    const prefix = uniquePrefix();
    const primary = redisStore(redis.url, prefix);
    const store = new FallbackStore(primary, dynamo, { ...DEADLINES, logger });
    const response = await store.read([APPLICANT], featureViews, { now: NOW });
    await primary.write([creditRecord(APPLICANT.dob_ssn, NOW, NOW, { hard_pulls: 42 })]); // the materializer
    await response.pending;
    expect(
      await admin.hGet(`${prefix}dob_ssn:${APPLICANT.dob_ssn}`, 'credit_history:hard_pulls'),
    ).toBe('42');
  });

  it('falls back on a Redis that accepts connections but never answers (timeout)', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const url = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const store = new FallbackStore(redisStore(url), dynamo, {
      primaryDeadlineMs: 50,
      secondaryDeadlineMs: 2_000,
      logger,
    });
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const response = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(response).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(response.results[0].credit_history.status).toBe('present');
      expect(performance.now() - started).toBeLessThan(1_000);
    }
    silent.close();
  });

  it('falls back on a SIGKILLed Redis, opens the circuit, and closes it when Redis returns', async () => {
    const own = await startRedisServer();
    const primary = redisStore(own.url);
    const store = new FallbackStore(primary, dynamo, {
      ...DEADLINES,
      circuitBreaker: { failureThreshold: 3, coolDownMs: 200 },
      logger,
    });
    await primary.write([
      zipcodeRecord(APPLICANT.zipcode, NOW),
      creditRecord(APPLICANT.dob_ssn, NOW),
    ]);
    expect((await store.read([APPLICANT], featureViews, { now: NOW })).servedBy).toBe('redis');

    await own.kill();
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(response.servedBy).toBe('dynamodb');
      expect(response.results[0].credit_history.status).toBe('present');
      reasons.push(response.fallbackReason);
    }
    expect(reasons).toEqual(['error', 'error', 'error', 'circuit_open', 'circuit_open']);
    expect(store.circuitState).toBe('open');
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'circuit_breaker', store: 'redis', to: 'open' }),
    );

    await own.restart(); // empty: reads will miss and refill
    await expect
      .poll(
        async () => {
          const response = await store.read([APPLICANT], featureViews, { now: NOW });
          await response.pending;
          return response.fallbackReason;
        },
        { timeout: 10_000, interval: 100 },
      )
      .toBeUndefined(); // served by Redis alone again, after a probe and a refill
    expect(store.circuitState).toBe('closed');
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'circuit_breaker', from: 'half_open', to: 'closed' }),
    );
    await own.stop();
  });

  it.each(['http500', 'garbage'] as const)(
    'treats Upstash answering %s as a primary fault',
    async (fault) => {
      const bridge = await startUpstashBridge({ redisUrl: redis.url, token: 't' });
      try {
        const primary = new UpstashStore({
          url: bridge.url,
          token: 't',
          keyPrefix: uniquePrefix(),
        });
        const store = new FallbackStore(primary, dynamo, { ...DEADLINES, logger });
        bridge.fault = fault;
        const response = await store.read([APPLICANT], featureViews, { now: NOW });
        expect(response).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'error' });
        expect(response.results[0].credit_history.status).toBe('present');
      } finally {
        await bridge.stop();
      }
    },
  );

  it("the half-open circuit's probe never makes the applicant wait for a Redis that still hangs", async () => {
    const proxy = await startTcpProxy(redis.port);
    try {
      const prefix = uniquePrefix();
      await redisStore(redis.url, prefix).write([
        zipcodeRecord(APPLICANT.zipcode, NOW, NOW, { city: 'FROM REDIS' }),
        creditRecord(APPLICANT.dob_ssn, NOW),
      ]);
      const primary = redisStore(proxy.url, prefix);
      await primary.read([APPLICANT], featureViews, { now: NOW }); // connected before the hang
      const store = new FallbackStore(primary, dynamo, {
        primaryDeadlineMs: 400,
        secondaryDeadlineMs: 2_000,
        circuitBreaker: { failureThreshold: 1, coolDownMs: 100 },
        logger,
      });
      proxy.mode = 'hang';
      const opening = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(opening).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(store.circuitState).toBe('open');

      // Past the cool-down this read carries the probe. Redis still hangs: DynamoDB answers
      // without the 400 ms Redis deadline in front of it, and the probe's timeout reopens the
      // circuit afterwards.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const started = performance.now();
      const probed = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(performance.now() - started).toBeLessThan(350);
      expect(probed).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'circuit_open' });
      expect(store.circuitState).toBe('half_open');
      await expect.poll(() => store.circuitState, { timeout: 2_000 }).toBe('open');

      // Redis back: the next probe answers in time (whichever store's answer came first), that
      // closes the circuit, and Redis serves again.
      proxy.mode = 'pass';
      await new Promise((resolve) => setTimeout(resolve, 150));
      await store.read([APPLICANT], featureViews, { now: NOW });
      await expect.poll(() => store.circuitState, { timeout: 2_000 }).toBe('closed');
      const recovered = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(recovered.servedBy).toBe('redis');
      expect(recovered.fallbackReason).toBeUndefined();
      expect(recovered.results[0].zipcode_features.values.city).toBe('FROM REDIS');
    } finally {
      proxy.mode = 'pass';
      await proxy.stop();
    }
  });

  it('throws StoreUnavailableError quickly when both stores are down', async () => {
    const deadSecondary = deadDynamo();
    const store = new FallbackStore(redisStore('redis://127.0.0.1:1'), deadSecondary, {
      ...DEADLINES,
      logger,
    });
    const started = performance.now();
    const read = store.read([APPLICANT], featureViews, { now: NOW });
    await expect(read).rejects.toThrow(StoreUnavailableError);
    await expect(read).rejects.toThrow(/both stores failed/);
    await expect(read).rejects.not.toThrow(new RegExp(APPLICANT.dob_ssn));
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('keeps the primary answer when it missed and the secondary is down', async () => {
    const deadSecondary = deadDynamo();
    const primary = redisStore();
    await primary.write([zipcodeRecord(APPLICANT.zipcode, NOW)]);
    const store = new FallbackStore(primary, deadSecondary, { ...DEADLINES, logger });
    const response = await store.read([APPLICANT], featureViews, { now: NOW });
    expect(response).toMatchObject({ servedBy: 'redis', fallbackReason: 'miss' });
    expect(response.results[0].credit_history.status).toBe('not_found');
  });

  it('gives the secondary what the primary left of the budget: with the circuit open, all of it', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { proxy: slowDynamo, store: secondary } = await dynamoBehindProxy();
    try {
      const url = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const store = new FallbackStore(redisStore(url), secondary, {
        primaryDeadlineMs: 300,
        secondaryDeadlineMs: 300,
        circuitBreaker: { failureThreshold: 1, coolDownMs: 60_000 },
        logger,
      });
      // The silent Redis times out (300 ms) and opens the circuit; DynamoDB answers in time.
      const first = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(first).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(store.circuitState).toBe('open');

      // Now DynamoDB needs 450 ms: past its own 300 ms, inside the 600 ms budget Redis left.
      slowDynamo.replyDelayMs = 450;
      const started = performance.now();
      const second = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(second).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'circuit_open' });
      expect(second.results[0].credit_history.status).toBe('present');
      expect(performance.now() - started).toBeGreaterThanOrEqual(440);

      // Past the whole budget it still fails, within it (the default 100 ms read timeout is
      // shorter than this 600 ms budget, so nothing waits past the budget).
      slowDynamo.replyDelayMs = 900;
      const failing = performance.now();
      await expect(store.read([APPLICANT], featureViews, { now: NOW })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(performance.now() - failing).toBeLessThan(800);
    } finally {
      await secondary.close();
      await slowDynamo.stop();
      silent.close();
    }
  });

  it('with a read timeout past the budget, a silent secondary is asked again, and a late answer beats a 503 until the timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { proxy: slowDynamo, store: secondary } = await dynamoBehindProxy();
    // Each BatchGetItem through the proxy, and the reply delay each one gets.
    let posts = 0;
    let delays: number[] = [];
    slowDynamo.onClientData = (chunk) => {
      if (!chunk.toString('latin1', 0, 5).startsWith('POST')) return;
      slowDynamo.replyDelayMs = delays[posts] ?? delays.at(-1) ?? 0;
      posts++;
    };
    try {
      const url = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const store = new FallbackStore(redisStore(url), secondary, {
        primaryDeadlineMs: 100,
        secondaryDeadlineMs: 200,
        readTimeoutMs: 1_500,
        circuitBreaker: { failureThreshold: 1, coolDownMs: 60_000 },
        logger,
      });
      // Opens the circuit (the silent Redis times out); DynamoDB answers in time, once.
      const first = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(first).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(posts).toBe(1);

      // The first BatchGetItem would answer at 800 ms, past the 300 ms budget (and short of the
      // SDK's 1 s request timeout, whose retry would be one more POST); the hedge sent at the
      // budget's end answers at once and wins.
      posts = 0;
      delays = [800, 0];
      const hedgedFrom = logs.length;
      let started = performance.now();
      const hedged = await store.read([APPLICANT], featureViews, { now: NOW });
      let ms = performance.now() - started;
      expect(hedged).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'circuit_open' });
      expect(hedged.results[0].credit_history.status).toBe('present');
      expect(posts).toBe(2);
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(700);
      expect(logs.slice(hedgedFrom)).toContainEqual(
        expect.objectContaining({
          event: 'secondary_hedged',
          store: 'dynamodb',
          reason: 'circuit_open',
        }),
      );

      // Every reply 700 ms late: past the budget, inside the timeout. The first one answers.
      posts = 0;
      delays = [700];
      started = performance.now();
      const late = await store.read([APPLICANT], featureViews, { now: NOW });
      ms = performance.now() - started;
      expect(late).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'circuit_open' });
      expect(posts).toBe(2);
      expect(ms).toBeGreaterThanOrEqual(690);
      expect(ms).toBeLessThan(1_400);

      // A DynamoDB that never answers fails the read at the timeout, not before, not much after.
      slowDynamo.mode = 'hang';
      started = performance.now();
      await expect(store.read([APPLICANT], featureViews, { now: NOW })).rejects.toThrow(
        /both stores failed \(redis: circuit open; dynamodb: deadline of /,
      );
      ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(1_490);
      expect(ms).toBeLessThan(2_500);

      // A silent Redis and a DynamoDB that is down (connection refused): nothing is left to wait
      // for but the late Redis, which gets the budget, not the timeout.
      const deadSecondary = deadDynamo();
      const down = new FallbackStore(redisStore(url), deadSecondary, {
        primaryDeadlineMs: 100,
        secondaryDeadlineMs: 200,
        readTimeoutMs: 1_500,
        logger,
      });
      started = performance.now();
      await expect(down.read([APPLICANT], featureViews, { now: NOW })).rejects.toThrow(
        /both stores failed \(redis: deadline of 100 ms exceeded.*; dynamodb: (?!deadline)/,
      );
      expect(performance.now() - started).toBeLessThan(900);
    } finally {
      slowDynamo.mode = 'pass';
      await secondary.close();
      await slowDynamo.stop();
      silent.close();
    }
  });

  it('a Redis past its deadline still answers when it beats DynamoDB (hedged), and drops out when it misses', async () => {
    const slowRedis = await startTcpProxy(redis.port);
    const { proxy: slowDynamo, store: secondary } = await dynamoBehindProxy();
    try {
      const prefix = uniquePrefix();
      await redisStore(redis.url, prefix).write([
        zipcodeRecord(APPLICANT.zipcode, NOW, NOW, { city: 'FROM REDIS' }),
        creditRecord(APPLICANT.dob_ssn, NOW),
      ]);
      const primary = redisStore(`redis://127.0.0.1:${slowRedis.port}`, prefix);
      await primary.read([APPLICANT], featureViews, { now: NOW }); // connected before the delays
      const store = new FallbackStore(primary, secondary, {
        primaryDeadlineMs: 100,
        secondaryDeadlineMs: 400,
        circuitBreaker: { failureThreshold: 100 },
        logger,
      });

      // Redis answers at ~250 ms, past its 100 ms; DynamoDB would need 100 + 450 ms, past the
      // 500 ms budget. Abandoning Redis at its deadline would fail this read.
      slowRedis.replyDelayMs = 250;
      slowDynamo.replyDelayMs = 450;
      const started = performance.now();
      const late = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(late).toMatchObject({ servedBy: 'redis', fallbackReason: 'timeout' });
      expect(late.results[0].zipcode_features.values.city).toBe('FROM REDIS');
      expect(performance.now() - started).toBeLessThan(450);

      // The other way round, DynamoDB answers first and its answer is the one used.
      slowRedis.replyDelayMs = 600;
      slowDynamo.replyDelayMs = 50;
      const fast = await store.read([APPLICANT], featureViews, { now: NOW });
      expect(fast).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(fast.results[0].zipcode_features.values.city).not.toBe('FROM REDIS');
      // Let Redis's late reply through before shorter delays could deliver a later one first.
      await new Promise((resolve) => setTimeout(resolve, 700));

      // A late answer that misses a view drops out: DynamoDB, slower but complete, answers.
      slowRedis.replyDelayMs = 150;
      slowDynamo.replyDelayMs = 250;
      const other = await store.read([OTHER], featureViews, { now: NOW });
      expect(other).toMatchObject({ servedBy: 'dynamodb', fallbackReason: 'timeout' });
      expect(other.results[0].zipcode_features.values.city).toBe('ATLANTA');

      // Both past the budget: 503 material, within the budget.
      slowRedis.replyDelayMs = 900;
      slowDynamo.replyDelayMs = 900;
      const failing = performance.now();
      await expect(store.read([APPLICANT], featureViews, { now: NOW })).rejects.toThrow(
        /both stores failed \(redis: .*; dynamodb: /,
      );
      expect(performance.now() - failing).toBeLessThan(800);
    } finally {
      await secondary.close();
      await Promise.all([slowRedis.stop(), slowDynamo.stop()]);
    }
  });
});
