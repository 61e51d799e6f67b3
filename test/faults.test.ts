import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import dynalite from 'dynalite';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbStore } from '../features/online/dynamodb.js';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import type { FeatureRecord } from '../features/online/types.js';
import { parseConfig } from '../functions/config.js';
import { createLogger } from '../functions/logger.js';
import { createNodeRuntime, type NodeRuntime } from '../functions/node-runtime.js';
import { applicationFor, creditRecord, zipcodeRecord } from './fixtures/applicant.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';
import { startUpstashBridge } from './harness/upstash-bridge.js';
import {
  createDecisionClient,
  runLoad,
  startTcpProxy,
  tally,
  type DecisionClient,
  type DecisionReply,
} from './support/load.js';

/**
 * Faults against real processes, through the production wiring: createNodeRuntime from
 * env-style settings, served by @hono/node-server on a real port, driven over HTTP with several
 * requests in flight. Redis is SIGKILLed, frozen, silent from the start, or (Upstash) answers 5xx
 * and garbage; DynamoDB (dynalite) must answer, and the app must return to Redis by itself.
 *
 * Deadlines are generous (Redis 250 ms, DynamoDB 2 s, not the production 4 + 5 ms): on this shared
 * machine the test's own event loop also runs dynalite and the client, and a tight deadline would
 * turn scheduling noise into failures. What is asserted is behaviour — who answers, with what
 * status, that nothing hangs; latency under faults is measured by `npm run bench -- --only faults`.
 */

const REDIS_DEADLINE_MS = 250;
const DYNAMODB_DEADLINE_MS = 2_000;
/** "Finishes instead of hanging": far above both deadlines, far below the client's timeout. */
const NO_HANG_MS = 5_000;
const CONCURRENCY = 6;
const API_KEY = 'faults-test-api-key-0123456789';

// Synthetic applicants unique to this file, so the PII scan can look for every one of them.
const dobSsns = Array.from(
  { length: 40 },
  (_, i) => `1957${String((i % 9) + 1).padStart(2, '0')}1${i % 10}_${String(6100 + i)}`,
);
const zipcodes = [76104, 76105, 76106, 76107];
const applications = dobSsns.map((dobSsn, i) =>
  applicationFor(dobSsn, zipcodes[i % zipcodes.length]),
);
const records: FeatureRecord[] = [
  ...zipcodes.map((zipcode) => zipcodeRecord(zipcode)),
  ...dobSsns.map((dobSsn, i) => creditRecord(dobSsn, { missed_payments_2y: i % 3 })),
];

const table = `faults-${Date.now()}`;
const logLines: string[] = [];
const logger = createLogger('debug', (line) => logLines.push(line));
let redis: RedisServerHandle;
let dynamodb: RestartableDynalite;
const savedEnv = { ...process.env };

/** dynalite in this process, restartable on the same port (empty again, like a new instance). */
interface RestartableDynalite {
  readonly endpoint: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function startRestartableDynalite(): Promise<RestartableDynalite> {
  let server: Server | undefined;
  let port = 0;
  const handle = {
    endpoint: '',
    async start() {
      const next: Server = dynalite({ createTableMs: 0 });
      await new Promise<void>((resolve, reject) => {
        next.once('error', reject);
        next.listen(port, '127.0.0.1', () => resolve());
      });
      server = next;
      port = (next.address() as AddressInfo).port;
      handle.endpoint = `http://127.0.0.1:${port}`;
    },
    async stop() {
      const running = server;
      server = undefined;
      running?.closeAllConnections();
      if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
    },
  };
  await handle.start();
  return handle;
}

async function seedRedis() {
  const store = new RedisTcpStore({ url: redis.url });
  await store.write(records);
  await store.close();
}

async function seedDynamoDb() {
  const store = new DynamoDbStore({ tableName: table, clientConfig: {} });
  await store.createTable();
  await store.write(records);
  await store.close();
}

interface RunningApp {
  readonly runtime: NodeRuntime;
  readonly client: DecisionClient;
  readonly baseUrl: string;
  close(): Promise<void>;
}

let running: RunningApp | undefined;

/** The app as functions/node.ts wires it, from settings as a deployment would set them. */
async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const config = parseConfig({
    DYNAMODB_TABLE: table,
    REDIS_DEADLINE_MS: String(REDIS_DEADLINE_MS),
    DYNAMODB_DEADLINE_MS: String(DYNAMODB_DEADLINE_MS),
    LOG_LEVEL: 'debug',
    // Security as deployed: a key required; rate limits (on with Upstash) far above this load.
    REQUIRE_API_KEY: 'true',
    API_KEYS: API_KEY,
    RATE_LIMIT_PER_KEY: '1000000',
    RATE_LIMIT_PER_IP: '1000000',
    ...env,
  });
  const runtime = await createNodeRuntime(config, {
    logger,
    clientIp: (c) => getConnInfo(c).remote.address,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: runtime.app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(s as Server),
    );
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createDecisionClient(baseUrl, {
    connections: CONCURRENCY,
    timeoutMs: 15_000,
    apiKey: API_KEY,
  });
  running = {
    runtime,
    client,
    baseUrl,
    async close() {
      client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.close();
    },
  };
  return running;
}

/** Sends load until a reply is served by `store` (bounded), then returns every reply. */
async function loadUntilServedBy(client: DecisionClient, store: string): Promise<DecisionReply[]> {
  let seen = false;
  return runLoad(client, applications, {
    concurrency: 2,
    requests: 20_000,
    maxDurationMs: 15_000,
    until: () => seen,
    onReply: (reply) => (seen ||= reply.servedBy === store),
  });
}

const load = (
  client: DecisionClient,
  requests: number,
  onReply?: (r: DecisionReply, i: number) => void,
) => runLoad(client, applications, { concurrency: CONCURRENCY, requests, onReply });

/** Log lines (parsed) written since `from`. */
const logsSince = (from: number) =>
  logLines.slice(from).map((line) => JSON.parse(line) as Record<string, unknown>);

const circuitEvents = (from: number) =>
  logsSince(from)
    .filter((l) => l.event === 'circuit_breaker')
    .map((l) => `${l.from}→${l.to}`);

beforeAll(async () => {
  // Anything printed outside the logger is a log line too, for the PII scan.
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logLines.push(JSON.stringify({ console: method, args: args.map(String) }));
    });
  }
  [redis, dynamodb] = await Promise.all([startRedisServer(), startRestartableDynalite()]);
  // The AWS SDK takes region, credentials and the endpoint from the standard environment.
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'faults',
    AWS_SECRET_ACCESS_KEY: 'faults',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
  });
  await Promise.all([seedRedis(), seedDynamoDb()]);
});

afterEach(async () => {
  await running?.close();
  running = undefined;
});

afterAll(async () => {
  process.env = savedEnv;
  vi.restoreAllMocks();
  await Promise.all([redis?.stop(), dynamodb?.stop()]);
  // PII: no test applicant's dob_ssn in any line logged on any path, fault or not.
  expect(logLines.length).toBeGreaterThan(0);
  const everything = logLines.join('\n');
  for (const dobSsn of dobSsns) expect(everything).not.toContain(dobSsn);
});

function expectAllDecided(replies: readonly DecisionReply[]) {
  expect(tally(replies.filter((r) => r.status !== 200))).toEqual({});
}

/**
 * All decided, (nearly) all by `store`: a scheduling stall on this shared machine can push a
 * healthy read past its deadline now and then, which is the fallback working, not a failure.
 */
function expectServedBy(replies: readonly DecisionReply[], store: string) {
  expectAllDecided(replies);
  const byStore = replies.filter((r) => r.servedBy === store).length;
  expect(byStore, JSON.stringify(tally(replies))).toBeGreaterThanOrEqual(replies.length * 0.9);
}

describe('Redis in front of DynamoDB', () => {
  it('SIGKILLed mid-load: no failed decision, the circuit opens, traffic returns to Redis after restart', async () => {
    const { client } = await startApp({ REDIS_URL: redis.url });
    expectServedBy(await load(client, 200), 'redis');

    const logMark = logLines.length;
    let killing: Promise<void> | undefined;
    const duringOutage = await load(client, 400, (_reply, index) => {
      if (index === 40) killing = redis.kill();
    });
    await killing;
    expectAllDecided(duringOutage);
    const fromDynamoDb = duringOutage.filter((r) => r.servedBy === 'dynamodb');
    expect(fromDynamoDb.length).toBeGreaterThan(300);
    expect(new Set(fromDynamoDb.map((r) => r.fallbackReason))).toContain('circuit_open');
    expect(circuitEvents(logMark)).toContain('closed→open');
    for (const reply of duringOutage) expect(reply.ms).toBeLessThan(NO_HANG_MS);

    await redis.restart();
    await seedRedis();
    const recovering = await loadUntilServedBy(client, 'redis');
    expectAllDecided(recovering);
    expect(recovering.some((r) => r.servedBy === 'redis')).toBe(true);
    expectServedBy(await load(client, 200), 'redis');
    expect(circuitEvents(logMark).at(-1)).toBe('half_open→closed');
  });

  it('frozen mid-load (connections open, no bytes back): the deadline trips, DynamoDB answers, no hang', async () => {
    const proxy = await startTcpProxy(redis.port);
    try {
      const { client } = await startApp({ REDIS_URL: proxy.url });
      expectServedBy(await load(client, 100), 'redis');

      const logMark = logLines.length;
      proxy.mode = 'hang';
      const frozen = await load(client, 200);
      expectAllDecided(frozen);
      expect(frozen.every((r) => r.servedBy === 'dynamodb')).toBe(true);
      const reasons = new Set(frozen.map((r) => r.fallbackReason));
      expect(reasons).toContain('timeout');
      expect(reasons).toContain('circuit_open');
      for (const reply of frozen) expect(reply.ms).toBeLessThan(NO_HANG_MS);
      expect(logsSince(logMark)).toContainEqual(
        expect.objectContaining({
          event: 'primary_read_failed',
          store: 'redis',
          reason: 'timeout',
        }),
      );

      proxy.mode = 'pass';
      const recovering = await loadUntilServedBy(client, 'redis');
      expectAllDecided(recovering);
      expect(recovering.some((r) => r.servedBy === 'redis')).toBe(true);
    } finally {
      proxy.mode = 'pass';
      await running?.close();
      running = undefined;
      await proxy.stop();
    }
  });

  // node-redis's close() waits for the replies of commands in flight, which a frozen Redis never
  // sends; the store bounds that wait, so node.ts's SIGTERM shutdown finishes.
  it('frozen Redis: shutting the runtime down still finishes', async () => {
    const proxy = await startTcpProxy(redis.port);
    try {
      const { client, runtime } = await startApp({ REDIS_URL: proxy.url });
      await load(client, 20);
      proxy.mode = 'hang';
      await load(client, 20);
      const closed = await Promise.race([
        runtime.close().then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('still closing after 2 s'), 2_000)),
      ]);
      expect(closed).toBe('closed');
    } finally {
      proxy.mode = 'pass';
      await running?.close();
      running = undefined;
      await proxy.stop();
    }
  });

  it('silent from the start (accepts, never answers): the server starts and DynamoDB answers', async () => {
    const proxy = await startTcpProxy(redis.port, 'hang');
    try {
      const { client } = await startApp({ REDIS_URL: proxy.url });
      const replies = await load(client, 100);
      expectAllDecided(replies);
      expect(replies.every((r) => r.servedBy === 'dynamodb')).toBe(true);
      for (const reply of replies) expect(reply.ms).toBeLessThan(NO_HANG_MS);
    } finally {
      await running?.close();
      running = undefined;
      await proxy.stop();
    }
  });

  // A deadline measures the store, not the server. Here the server itself stalls (a GC pause, a
  // CPU taken by something else) for longer than the whole feature budget right after asking
  // Redis: the DynamoDB read it then starts late must still get its own deadline. A request
  // deadline raced around the FallbackStore fired in the same event-loop turn and failed it.
  it('the server itself stalls past the budget mid-read: the fallback read it starts late still answers', async () => {
    const proxy = await startTcpProxy(redis.port);
    try {
      const { client } = await startApp({
        REDIS_URL: proxy.url,
        REDIS_DEADLINE_MS: '50',
        DYNAMODB_DEADLINE_MS: '200',
      });
      expectServedBy(await load(client, 20), 'redis');

      proxy.replyDelayMs = 5_000; // this Redis answers, far too late
      let stalls = 0;
      proxy.onClientData = () => {
        if (stalls++ > 0) return;
        // The proxy runs in the server's process: this blocks the server's event loop, 600 ms
        // from the moment it asked Redis, past the 50 + 200 ms budget.
        const until = performance.now() + 600;
        while (performance.now() < until);
      };
      const [reply] = await load(client, 1);
      expect(stalls).toBe(1);
      expect(reply).toMatchObject({ status: 200, servedBy: 'dynamodb', fallbackReason: 'timeout' });
    } finally {
      proxy.onClientData = undefined;
      await running?.close();
      running = undefined;
      await proxy.stop();
    }
  });

  // The 10 ms budget is a target, not the point where an answer stops being worth having: a
  // DynamoDB slower than the budget still answers, until FEATURE_READ_TIMEOUT_MS.
  it('DynamoDB slower than the budget: a late 200 until FEATURE_READ_TIMEOUT_MS, a 503 past it', async () => {
    const frozenRedis = await startTcpProxy(redis.port, 'hang');
    const slowDynamo = await startTcpProxy(Number(new URL(dynamodb.endpoint).port));
    process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${slowDynamo.port}`;
    slowDynamo.replyDelayMs = 400;
    const settings = {
      REDIS_URL: frozenRedis.url,
      REDIS_DEADLINE_MS: '50',
      DYNAMODB_DEADLINE_MS: '100',
    };
    try {
      const patient = await startApp({ ...settings, FEATURE_READ_TIMEOUT_MS: '2000' });
      const late = await load(patient.client, 12);
      expectAllDecided(late);
      for (const reply of late) {
        expect(reply.servedBy).toBe('dynamodb');
        expect(reply.ms).toBeGreaterThanOrEqual(400);
        expect(reply.ms).toBeLessThan(NO_HANG_MS);
      }
      await patient.close();
      running = undefined;

      // A read timeout no longer than the 150 ms budget: the same DynamoDB fails the read at it.
      const strict = await startApp({ ...settings, FEATURE_READ_TIMEOUT_MS: '150' });
      const failed = await load(strict.client, 6);
      expect(tally(failed)).toEqual({ '503': 6 });
      for (const reply of failed) {
        expect(reply.retryAfter).toBe('1');
        expect(reply.ms).toBeLessThan(400);
      }
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
      await running?.close();
      running = undefined;
      await Promise.all([frozenRedis.stop(), slowDynamo.stop()]);
    }
  });

  it('both stores down: 503 with Retry-After at once, no crash, decisions again when they return', async () => {
    const { client, baseUrl } = await startApp({ REDIS_URL: redis.url });
    expectAllDecided(await load(client, 50));

    await Promise.all([redis.kill(), dynamodb.stop()]);
    const down = await load(client, 60);
    expect(tally(down)).toEqual({ '503': 60 });
    for (const reply of down) {
      expect(reply.retryAfter).toBe('1');
      expect(JSON.parse(reply.body).error.code).toBe('stores_unavailable');
      expect(reply.ms).toBeLessThan(NO_HANG_MS);
    }
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);

    await Promise.all([redis.restart(), dynamodb.start()]);
    await Promise.all([seedRedis(), seedDynamoDb()]);
    const recovering = await loadUntilServedBy(client, 'redis');
    expect(recovering.some((r) => r.servedBy === 'redis')).toBe(true);
    expectAllDecided(await load(client, 100));
  });
});

describe('Upstash in front of DynamoDB', () => {
  it.each(['http500', 'garbage'] as const)(
    'Upstash answering %s is a Redis fault: DynamoDB answers, Upstash serves again once healthy',
    async (fault) => {
      const bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'faults-token' });
      try {
        const { client } = await startApp({
          UPSTASH_REDIS_REST_URL: bridge.url,
          UPSTASH_REDIS_REST_TOKEN: bridge.token,
        });
        expectServedBy(await load(client, 100), 'upstash');

        const logMark = logLines.length;
        bridge.fault = fault;
        const faulty = await load(client, 200);
        expectAllDecided(faulty);
        expect(faulty.every((r) => r.servedBy === 'dynamodb')).toBe(true);
        expect(logsSince(logMark)).toContainEqual(
          expect.objectContaining({
            event: 'primary_read_failed',
            store: 'upstash',
            reason: 'error',
          }),
        );
        expect(circuitEvents(logMark)).toContain('closed→open');

        bridge.fault = 'none';
        const recovering = await loadUntilServedBy(client, 'upstash');
        expectAllDecided(recovering);
        expect(recovering.some((r) => r.servedBy === 'upstash')).toBe(true);
      } finally {
        await running?.close();
        running = undefined;
        await bridge.stop();
      }
    },
  );
});
