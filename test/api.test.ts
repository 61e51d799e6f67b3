import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore, createDynamoDbTable } from '../features/online/dynamodb.js';
import { EmbeddedStore } from '../features/online/embedded.js';
import { FallbackStore } from '../features/online/fallback.js';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import { UpstashStore } from '../features/online/upstash.js';
import { InvalidEntityKeyError } from '../features/online/key-layout.js';
import { StoreUnavailableError, type OnlineStore } from '../features/online/types.js';
import { startDynalite, type DynaliteHandle } from './harness/dynalite.js';
import { uniquePrefix } from './harness/feature-records.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from './harness/upstash-bridge.js';
import { applicationFor, creditRecord, zipcodeRecord } from './fixtures/applicant.js';
import { appUnderTest, expectedDecision, postDecision } from './support/app-under-test.js';

/**
 * POST /loan-decision end to end over real stores: redis-server, the Upstash REST bridge in
 * front of it, and dynalite. Every applicant's dob_ssn is unique to this file so the PII scan
 * at the end can look for all of them in every log line and response.
 */

let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let dynalite: DynaliteHandle;
let dynamoClient: DynamoDBClient;
const table = `features-${Date.now()}`;
const API_KEY = 'api-test-key-0123456789abcdef';
const allLogs: string[] = [];
const allBodies: string[] = [];
const applicants = new Set<string>();

function applicant(n: number) {
  const dobSsn = `1980010${n % 10}_${String(1000 + n).slice(-4)}`;
  applicants.add(dobSsn);
  return dobSsn;
}

async function send(app: Parameters<typeof postDecision>[0], body: unknown, headers = {}) {
  const response = await postDecision(app, body, headers);
  const text = await response.text();
  allBodies.push(text);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

/** The real store, whose reads reject with `failure()` while it returns an error. */
function failingReads<S extends OnlineStore>(store: S, failure: () => Error | undefined): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const error = prop === 'read' ? failure() : undefined;
      if (error) return () => Promise.reject(error);
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

beforeAll(async () => {
  [redis, dynalite] = await Promise.all([startRedisServer(), startDynalite()]);
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'api-test-token' });
  dynamoClient = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await createDynamoDbTable(dynamoClient, table);
});

afterAll(async () => {
  // PII: no test applicant's dob_ssn in any log line or response body of this file.
  const everything = [...allLogs, ...allBodies].join('\n');
  for (const dobSsn of applicants) expect(everything).not.toContain(dobSsn);
  dynamoClient?.destroy();
  await bridge?.stop();
  await Promise.all([redis?.stop(), dynalite?.stop()]);
});

describe('decisions from Redis over TCP', () => {
  it('answers the example request with the model’s decision, reasons and timings in ONE round trip', async () => {
    const dobSsn = applicant(1);
    const seed = new RedisTcpStore({ url: redis.url });
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    await seed.write(records);
    await seed.close?.();

    let roundTrips = 0;
    const store = new RedisTcpStore({
      url: redis.url,
      // Counts what actually goes to the socket: a pipeline is one batch of writes.
      wrapClient: (client) =>
        new Proxy(client, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver);
            if (
              prop === 'multi' ||
              prop === 'sendCommand' ||
              prop === 'hmGet' ||
              prop === 'hGetAll'
            ) {
              return (...args: unknown[]) => {
                roundTrips++;
                return (value as (...a: unknown[]) => unknown).apply(target, args);
              };
            }
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    });
    const { app, logs } = await appUnderTest(store);
    const application = applicationFor(dobSsn);
    const expected = await expectedDecision(application, records);

    roundTrips = 0;
    const { status, headers, body } = await send(app, application);
    allLogs.push(...logs);
    expect(status).toBe(200);
    expect(roundTrips).toBe(1);
    expect(body.decision).toBe(expected.decision);
    expect(body.probability_of_default).toBe(expected.probability);
    expect(body.model_version).toMatch(/\S/);
    expect(body.features).toMatchObject({
      served_by: 'redis',
      fallback_reason: null,
      views: { zipcode_features: { status: 'present' }, credit_history: { status: 'present' } },
    });
    expect(body.reasons.length).toBeGreaterThan(0);
    for (const reason of body.reasons) {
      expect(reason.condition).toContain(reason.feature);
    }
    expect(headers.get('server-timing')).toMatch(
      /^features;dur=[\d.]+, model;dur=[\d.]+, total;dur=[\d.]+$/,
    );
    expect(headers.get('x-request-id')).toBe(body.request_id);

    // The column form of the system this replaces gives the same decision.
    const columns = Object.fromEntries(Object.entries(application).map(([k, v]) => [k, [v]]));
    const again = await send(app, columns);
    expect(again.status).toBe(200);
    expect(again.body.probability_of_default).toBe(expected.probability);
    await store.close?.();
  });

  it('applies DECISION_THRESHOLD as the cut-off on P(default)', async () => {
    const dobSsn = applicant(2);
    const store = new RedisTcpStore({ url: redis.url });
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    await store.write(records);
    const application = applicationFor(dobSsn);
    const { probability } = await expectedDecision(application, records);
    for (const threshold of [0, 1]) {
      const { app } = await appUnderTest(store, { threshold });
      const { body } = await send(app, application);
      expect(body.threshold).toBe(threshold);
      expect(body.decision).toBe(probability >= threshold ? 'rejected' : 'approved');
    }
    await store.close?.();
  });
});

describe('decisions from Upstash over REST', () => {
  it('fetches both entities in one HTTP request', async () => {
    const dobSsn = applicant(3);
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    const store = new UpstashStore({ url: bridge.url, token: bridge.token });
    await store.write(records);
    const { app, logs } = await appUnderTest(store);
    bridge.requests = 0;
    const { status, body } = await send(app, applicationFor(dobSsn));
    allLogs.push(...logs);
    expect(status).toBe(200);
    expect(bridge.requests).toBe(1);
    expect(body.features.served_by).toBe('upstash');
    expect(body.probability_of_default).toBe(
      (await expectedDecision(applicationFor(dobSsn), records)).probability,
    );
  });
});

/** The app over `store`, with an API key required and a per-key limit in the bridge's Redis. */
function rateLimitedApp(
  store: OnlineStore,
  perApiKey: { requests: number; windowSeconds: number },
) {
  return appUnderTest(store, {
    security: {
      apiKeys: [API_KEY],
      rateLimit: {
        redis: { url: bridge.url, token: bridge.token },
        prefix: uniquePrefix('rl'),
        perApiKey,
        timeoutMs: 2_000,
      },
    },
  });
}
const AUTH = { authorization: `Bearer ${API_KEY}` };

describe('rate limiting beside the Upstash feature read', () => {
  it("asks the limiter while it reads the features: one round trip's wait, not two", async () => {
    const dobSsn = applicant(21);
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    const store = new UpstashStore({ url: bridge.url, token: bridge.token });
    await store.write(records);
    const post = (app: Parameters<typeof postDecision>[0]) =>
      send(app, applicationFor(dobSsn), AUTH);
    // The limiter's request is held at the bridge until the feature read arrives (or 1.5 s): a
    // read that waited for the limiter's answer would arrive only after that.
    let readArrived!: () => void;
    let readWhileHeld = false;
    let limiterHeld = false;
    let reads = 0;
    bridge.beforeRun = async (commands) => {
      const isRead = commands.some((c) => c[0].toUpperCase() === 'HMGET');
      const isLimiter = commands.some((c) => /^EVAL/i.test(c[0]));
      if (isRead) {
        reads++;
        if (limiterHeld) readWhileHeld = true;
        readArrived?.();
      } else if (isLimiter) {
        limiterHeld = true;
        await Promise.race([
          new Promise<void>((resolve) => (readArrived = resolve)),
          new Promise((resolve) => setTimeout(resolve, 1_500)),
        ]);
        limiterHeld = false;
      }
    };
    try {
      const { app, logs } = await rateLimitedApp(store, { requests: 2, windowSeconds: 60 });
      const answers = [];
      for (let i = 0; i < 3; i++) {
        readWhileHeld = false;
        answers.push({ ...(await post(app)), readWhileHeld });
      }
      allLogs.push(...logs);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
      expect(answers.map((a) => a.readWhileHeld)).toEqual([true, true, true]);
      expect(answers[0].body.probability_of_default).toBe(
        (await expectedDecision(applicationFor(dobSsn), records)).probability,
      );
      // The refused one is the limiter's answer, and no decision was logged for it.
      expect(answers[2].body.error.code).toBe('rate_limited');
      expect(answers[2].body.request_id).toBe(answers[2].headers.get('x-request-id'));
      expect(answers[2].headers.get('retry-after')).toMatch(/^\d+$/);
      expect(answers[2].headers.get('server-timing')).toBeNull();
      const decisions = logs.filter((l) => JSON.parse(l).msg === 'decision');
      expect(decisions.map((l) => JSON.parse(l).request_id)).toEqual(
        answers.slice(0, 2).map((a) => a.body.request_id),
      );
      // Once refused, the client is known to be over its limit (the limiter's in-memory cache):
      // its next requests wait for their verdict first and cost no feature read.
      reads = 0;
      const again = await post(app);
      expect(again.status).toBe(429);
      expect(again.body.error.code).toBe('rate_limited');
      expect(reads).toBe(0);
      // The batch route is refused too.
      const batch = await app.request('/loan-decisions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify({ applications: [applicationFor(dobSsn)] }),
      });
      allBodies.push(await batch.clone().text());
      expect(batch.status).toBe(429);
      expect(logs.some((l) => JSON.parse(l).msg === 'decisions')).toBe(false);
    } finally {
      bridge.beforeRun = undefined;
    }
  });
});

describe('rate limiting: what a refused request logs', () => {
  it('not its client mistakes, but a bug', async () => {
    const dobSsn = applicant(22);
    const store = new UpstashStore({ url: bridge.url, token: bridge.token });
    await store.write([zipcodeRecord(), creditRecord(dobSsn)]);
    let bug = false;
    // The real store, with a bug switched on for one request (not a store fault).
    const buggy = failingReads(store, () => (bug ? new TypeError('a bug') : undefined));
    // A limit of one request per key: each app's second request is refused by Redis's verdict,
    // which arrives while the handler runs (the in-memory cache learns of it only then).
    const statuses: number[] = [];
    const entries: Array<{ msg: string; status?: number }> = [];
    for (const second of ['malformed', 'bug'] as const) {
      const { app, logs } = await rateLimitedApp(buggy, { requests: 1, windowSeconds: 60 });
      statuses.push((await send(app, applicationFor(dobSsn), AUTH)).status);
      bug = second === 'bug';
      const body =
        second === 'malformed'
          ? { ...applicationFor(dobSsn), person_age: 'old' }
          : applicationFor(dobSsn);
      statuses.push((await send(app, body, AUTH)).status);
      bug = false;
      allLogs.push(...logs);
      entries.push(...logs.map((l) => JSON.parse(l)));
    }
    expect(statuses).toEqual([200, 429, 200, 429]);
    // Only the limiter's 429s are logged as answers; the bug is logged all the same.
    expect(entries.filter((e) => e.msg === 'request rejected').map((e) => e.status)).toEqual([
      429, 429,
    ]);
    expect(entries.filter((e) => e.msg === 'unhandled error')).toHaveLength(1);
  });
});

describe('what an error inside a decision answers', () => {
  it('a bug: 500 without its message, logged once as a bug; a bad key 400 and a store outage 503, neither a bug', async () => {
    const dobSsn = applicant(23);
    const store = new RedisTcpStore({ url: redis.url, keyPrefix: uniquePrefix() });
    await store.write([zipcodeRecord(), creditRecord(dobSsn)]);
    let failure: Error | undefined;
    // The real store, with a failure switched on for one request.
    const failing = failingReads(store, () => failure);
    const { app, logs } = await appUnderTest(failing);
    const answers = [];
    for (const error of [
      new TypeError('a bug in the read'),
      new InvalidEntityKeyError('key too long'),
      new StoreUnavailableError('redis', 'connection refused'),
    ]) {
      failure = error;
      answers.push(await send(app, applicationFor(dobSsn)));
    }
    failure = undefined;
    answers.push(await send(app, applicationFor(dobSsn)));
    await store.close?.();
    allLogs.push(...logs);

    expect(answers.map((a) => [a.status, a.body.error?.code])).toEqual([
      [500, 'internal_error'],
      [400, 'invalid_request'],
      [503, 'stores_unavailable'],
      [200, undefined],
    ]);
    expect(answers.map((a) => a.headers.get('retry-after'))).toEqual([null, null, '1', null]);
    expect(JSON.stringify(answers[0].body)).not.toContain('a bug');
    const entries = logs.map((l) => JSON.parse(l) as { msg: string; error?: unknown });
    expect(entries.filter((e) => e.msg === 'unhandled error')).toHaveLength(1);
    expect(entries.filter((e) => e.msg === 'feature stores unavailable')).toHaveLength(1);
  });
});

describe('fallback to DynamoDB', () => {
  const deadlines = { primaryDeadlineMs: 500, secondaryDeadlineMs: 3_000 };

  it('answers a Redis miss from DynamoDB with one BatchGetItem, then refills Redis', async () => {
    const dobSsn = applicant(4);
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    let dynamoCalls = 0;
    const counted = new Proxy(dynamoClient, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'send') {
          return (command: unknown, ...rest: unknown[]) => {
            dynamoCalls++;
            return (value as (...a: unknown[]) => unknown).call(target, command, ...rest);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const dynamodb = new DynamoDbStore({ tableName: table, client: counted });
    await dynamodb.write(records);
    const redisStore = new RedisTcpStore({ url: redis.url, keyPrefix: `miss${Date.now()}:` });
    const { app, logs } = await appUnderTest(new FallbackStore(redisStore, dynamodb, deadlines), {
      background: (work) => void work,
    });

    dynamoCalls = 0;
    const first = await send(app, applicationFor(dobSsn));
    expect(first.status).toBe(200);
    expect(first.body.features).toMatchObject({ served_by: 'dynamodb', fallback_reason: 'miss' });
    expect(dynamoCalls).toBe(1);
    expect(first.body.probability_of_default).toBe(
      (await expectedDecision(applicationFor(dobSsn), records)).probability,
    );

    // The refill runs in the background; Redis answers alone once it has landed.
    await expect
      .poll(async () => (await send(app, applicationFor(dobSsn))).body.features.served_by, {
        timeout: 5_000,
      })
      .toBe('redis');
    allLogs.push(...logs);
    await redisStore.close?.();
  });

  it('answers from DynamoDB while redis-server is down, and 503 + Retry-After when both are', async () => {
    const dobSsn = applicant(5);
    const records = [zipcodeRecord(), creditRecord(dobSsn)];
    const dynamodb = new DynamoDbStore({ tableName: table, client: dynamoClient });
    await dynamodb.write(records);
    const own = await startRedisServer();
    const redisStore = new RedisTcpStore({ url: own.url });
    await redisStore.write(records);
    const { app, logs } = await appUnderTest(new FallbackStore(redisStore, dynamodb, deadlines));
    expect((await send(app, applicationFor(dobSsn))).body.features.served_by).toBe('redis');
    expect((await (await app.request('/health')).json()).circuit_breaker).toBe('closed');

    await own.kill();
    const during = await send(app, applicationFor(dobSsn));
    expect(during.status).toBe(200);
    expect(during.body.features.served_by).toBe('dynamodb');
    expect(['error', 'timeout', 'circuit_open']).toContain(during.body.features.fallback_reason);

    const deadDynamo = new DynamoDbStore({
      tableName: table,
      clientConfig: {
        endpoint: 'http://127.0.0.1:9', // discard port: connection refused
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      },
    });
    const { app: downApp, logs: downLogs } = await appUnderTest(
      new FallbackStore(redisStore, deadDynamo, deadlines),
    );
    const down = await send(downApp, applicationFor(dobSsn));
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.body.error.code).toBe('stores_unavailable');
    allLogs.push(...logs, ...downLogs);
    await redisStore.close?.();
    await deadDynamo.close?.();
    await own.stop();
  });
});

describe('client mistakes get a 4xx JSON naming the problem, never a 500', () => {
  let app: Awaited<ReturnType<typeof appUnderTest>>['app'];
  let logs: string[];
  let store: RedisTcpStore;
  const dobSsn = applicant(6);

  beforeAll(async () => {
    store = new RedisTcpStore({ url: redis.url });
    await store.write([zipcodeRecord(), creditRecord(dobSsn)]);
    ({ app, logs } = await appUnderTest(store));
  });
  afterAll(async () => {
    allLogs.push(...logs);
    await store.close?.();
  });

  it.each([
    ['a wrong type', { loan_amnt: 'lots' }, ['loan_amnt']],
    [
      'several bad fields',
      { person_age: -1, loan_int_rate: 'x', zipcode: 1e6 },
      ['person_age', 'loan_int_rate', 'zipcode'],
    ],
    ['a malformed dob_ssn', { dob_ssn: '1963-06-21 4278' }, ['dob_ssn']],
    ['an unknown field', { loan_amount: 1 }, ['loan_amount']],
    ['a missing field', { loan_intent: undefined }, ['loan_intent']],
  ])('400 for %s', async (_name, change, fields) => {
    const { status, body } = await send(app, { ...applicationFor(dobSsn), ...change });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.fields.map((f: { field: string }) => f.field).sort()).toEqual(
      [...fields].sort(),
    );
  });

  it('400 for malformed JSON and for a body that is not an object', async () => {
    expect((await send(app, '{"zipcode": ')).body.error.code).toBe('malformed_json');
    const array = await send(app, [1, 2]);
    expect(array.status).toBe(400);
    expect(array.body.error.fields[0].field).toBe('(body)');
  });

  it('400 for a column-form value that is not exactly one element', async () => {
    const columns = Object.fromEntries(
      Object.entries(applicationFor(dobSsn)).map(([k, v]) => [k, k === 'loan_amnt' ? [v, v] : [v]]),
    );
    const { status, body } = await send(app, columns);
    expect(status).toBe(400);
    expect(body.error.fields).toEqual([
      { field: 'loan_amnt', message: expect.stringContaining('exactly one') },
    ]);
  });

  it('415 for a body that is not JSON, 413 for one over the limit', async () => {
    const form = await send(app, 'zipcode=76104', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    const huge = await send(app, { ...applicationFor(dobSsn), padding: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
  });

  it('422 naming the feature view for an unknown applicant, and for stale features', async () => {
    const unknown = await send(app, applicationFor(applicant(7)));
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.feature_views).toEqual([
      { view: 'credit_history', status: 'not_found' },
    ]);

    const staleApplicant = applicant(8);
    const elevenYearsAgo = Date.now() - 11 * 365 * 86_400_000;
    await store.write([creditRecord(staleApplicant, {}, elevenYearsAgo)]);
    const stale = await send(app, applicationFor(staleApplicant));
    expect(stale.status).toBe(422);
    expect(stale.body.error.feature_views).toEqual([{ view: 'credit_history', status: 'stale' }]);

    const noZip = await send(app, applicationFor(dobSsn, 99_998));
    expect(noZip.body.error.feature_views).toEqual([
      { view: 'zipcode_features', status: 'not_found' },
    ]);
  });

  it('accepts a calendar-impossible but well-formed dob_ssn (they exist in the bureau data)', async () => {
    const leap = '19860229_0001';
    applicants.add(leap);
    const { status } = await send(app, applicationFor(leap));
    expect(status).toBe(422); // validated, looked up, not found — not a 400
  });

  it('404 JSON for unknown routes; health and OpenAPI are served', async () => {
    const missing = await app.request('/nope');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('not_found');
    const health = await (await app.request('/health')).json();
    expect(health).toMatchObject({ status: 'ok', store: 'redis' });
    const doc = await (await app.request('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/loan-decision'].post.responses).toHaveProperty('422');
    expect(doc.components.schemas.LoanApplication.properties).toHaveProperty('dob_ssn');
  });
});

describe('POST /loan-decisions (batch)', () => {
  it('decides many applications with ONE Upstash request, per-item errors in order', async () => {
    const known = [applicant(11), applicant(12), applicant(13)];
    const store = new UpstashStore({ url: bridge.url, token: bridge.token });
    await store.write([zipcodeRecord(), ...known.map((d) => creditRecord(d, { hard_pulls: 3 }))]);
    const { app, logs } = await appUnderTest(store);
    const unknown = applicant(14);
    const applications = [
      applicationFor(known[0]),
      { ...applicationFor(known[1]), loan_amnt: -5 },
      applicationFor(unknown),
      applicationFor(known[2]),
    ];
    bridge.requests = 0;
    const response = await app.request('/loan-decisions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ applications }),
    });
    const text = await response.text();
    allBodies.push(text);
    allLogs.push(...logs);
    expect(response.status).toBe(200);
    expect(bridge.requests).toBe(1);
    const body = JSON.parse(text);
    expect(body.results.map((r: { status: number }) => r.status)).toEqual([200, 400, 422, 200]);
    expect(body.results[1].error.fields[0].field).toBe('loan_amnt');
    expect(body.results[2].error.feature_views).toEqual([
      { view: 'credit_history', status: 'not_found' },
    ]);
    for (const i of [0, 3]) {
      const records = [zipcodeRecord(), creditRecord(known[i === 0 ? 0 : 2], { hard_pulls: 3 })];
      const expected = await expectedDecision(applications[i], records);
      expect(body.results[i].probability_of_default).toBe(expected.probability);
      expect(body.results[i].decision).toBe(expected.decision);
    }
  });

  it('400 for an empty or oversized batch', async () => {
    const { app } = await appUnderTest(new EmbeddedStore(), { maxBatchSize: 2 });
    for (const applications of [[], [1, 2, 3], 'x']) {
      const response = await app.request('/loan-decisions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ applications }),
      });
      expect(response.status).toBe(400);
      expect((await response.json()).error.fields[0].field).toBe('applications');
    }
  });
});
