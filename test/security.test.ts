import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../features/online/embedded.js';
import { createLogger } from '../functions/logger.js';
import {
  rateLimitAdmission,
  refusedByRateLimit,
  type RateLimitOptions,
} from '../functions/http/rate-limit.js';
import {
  ApiKeyVerifier,
  SecurityConfigError,
  securityMiddleware,
  type SecurityOptions,
  type SecurityVariables,
} from '../functions/http/security.js';
import { applicationFor, creditRecord, zipcodeRecord } from './fixtures/applicant.js';
import { uniquePrefix } from './harness/feature-records.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from './harness/upstash-bridge.js';
import { appUnderTest } from './support/app-under-test.js';

/**
 * The security chain in front of the real app (embedded store with a test applicant), with the
 * rate limiter on a real redis-server behind the Upstash REST bridge. The app is mounted the way
 * the chain will sit in app.ts: requestId, then the chain, then the routes.
 */

const KEY_A = 'test-key-A-0123456789abcdefghij';
const KEY_B = 'test-key-B-0123456789abcdefghij';
const ORIGIN = 'https://apply.example.com';
const DOB_SSN = '19770707_7777';
const IPS = { one: '203.0.113.7', two: '198.51.100.23', three: '192.0.2.99' };

let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let inner: Awaited<ReturnType<typeof appUnderTest>>;
const logs: string[] = [];
const logger = createLogger('debug', (line) => logs.push(line));

beforeAll(async () => {
  redis = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'security-test-token' });
  const store = new EmbeddedStore();
  await store.write([zipcodeRecord(), creditRecord(DOB_SSN)]);
  inner = await appUnderTest(store);
});

afterAll(async () => {
  // Services first: a failed beforeAll must not leave a redis-server behind.
  await bridge?.stop();
  await redis?.stop();
  // Nothing secret or personal in any log line: no key, no client address, no dob_ssn.
  const everything = [...logs, ...(inner?.logs ?? [])].join('\n');
  for (const secret of [KEY_A, KEY_B, DOB_SSN, ...Object.values(IPS)]) {
    expect(everything).not.toContain(secret);
  }
});

function secured(options: Partial<SecurityOptions> = {}) {
  const app = new Hono<{ Variables: SecurityVariables }>();
  app.use(requestId());
  app.use(...securityMiddleware({ logger, apiKeys: [KEY_A, KEY_B], ...options }));
  // A page that sets its own policy, as the demo page at / would.
  app.get('/', (c) => {
    c.header('Content-Security-Policy', "default-src 'self'");
    return c.html('<p>demo</p>');
  });
  // Every route of the app builds its response through the context (c.json & co.), which is
  // what carries the prepared security headers; the stand-in route does the same.
  // Like the app's routes, it asks the rate limiter before it answers (the verdict arrives while
  // the request is handled).
  app.all('*', async (c) => {
    if (!(await rateLimitAdmission(c))) return refusedByRateLimit(c);
    const response = await inner.app.fetch(c.req.raw);
    return c.body(
      await response.arrayBuffer(),
      response.status as 200,
      Object.fromEntries(response.headers),
    );
  });
  return app;
}

function post(
  app: Hono<{ Variables: SecurityVariables }>,
  headers: Record<string, string> = {},
  executionCtx?: {
    waitUntil(p: Promise<unknown>): void;
    passThroughOnException(): void;
    props: unknown;
  },
) {
  return app.request(
    '/loan-decision',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(applicationFor(DOB_SSN)),
    },
    undefined,
    executionCtx as never,
  );
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('bearer API keys', () => {
  it('401 with WWW-Authenticate and the API error shape when the key is missing', async () => {
    const res = await post(secured());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="loan-decision"');
    const body = await res.json();
    expect(body.error.code).toBe('unauthorized');
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
  });

  it.each([
    ['a wrong key of the same length', `Bearer ${KEY_A.slice(0, -1)}x`],
    ['a valid key with a suffix', `Bearer ${KEY_A}x`],
    ['a prefix of a valid key', `Bearer ${KEY_A.slice(0, 10)}`],
    ['another scheme', `Basic ${KEY_A}`],
    ['no token', 'Bearer '],
    ['a token with forbidden characters', `Bearer ${KEY_A} ${KEY_B}`],
  ])('401 invalid_token for %s', async (_name, authorization) => {
    const res = await post(secured(), { authorization });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const text = await res.text();
    expect(text).not.toContain(KEY_A.slice(0, 10));
  });

  it('accepts every key of the rotation list, and the scheme in any case', async () => {
    const app = secured();
    for (const headers of [bearer(KEY_A), bearer(KEY_B), { authorization: `bearer ${KEY_B}` }]) {
      const res = await post(app, headers);
      expect(res.status).toBe(200);
      expect((await res.json()).decision).toMatch(/approved|rejected/);
    }
  });

  it('leaves the public paths open and can be switched off', async () => {
    const app = secured();
    expect((await app.request('/health')).status).toBe(200);
    expect((await app.request('/')).status).toBe(200);
    expect((await app.request('/openapi.json')).status).toBe(401);
    const open = secured({ publicPaths: ['/health', '/openapi.json'] });
    expect((await open.request('/openapi.json')).status).toBe(200);
    expect((await post(secured({ apiKeys: [], requireApiKey: false }))).status).toBe(200);
  });

  it('refuses configurations that would lock everyone out or accept guessable keys', () => {
    expect(() => securityMiddleware({ logger, requireApiKey: true })).toThrow(/API_KEYS/);
    for (const weak of ['short-key', `${KEY_A} with spaces`]) {
      let message = '';
      try {
        securityMiddleware({ logger, apiKeys: [KEY_A, weak] });
      } catch (error) {
        expect(error).toBeInstanceOf(SecurityConfigError);
        message = (error as Error).message;
      }
      expect(message).toContain('API key #2');
      expect(message).not.toContain(weak);
    }
    expect(() => securityMiddleware({ logger, corsOrigins: ['https://a.example/'] })).toThrow(
      /CORS_ORIGINS/,
    );
  });

  it('identifies keys by an id that is stable, distinct and not the key', () => {
    const verifier = new ApiKeyVerifier([KEY_A, KEY_B]);
    const a = verifier.identify(`Bearer ${KEY_A}`);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(verifier.identify(`Bearer ${KEY_A}`)).toBe(a);
    expect(verifier.identify(`Bearer ${KEY_B}`)).not.toBe(a);
    expect(verifier.identify(undefined)).toBeUndefined();
    expect(KEY_A).not.toContain(a!);
    // The id is the first 16 hex digits of the key's SHA-256, the same on every runtime.
    expect(a).toBe(createHash('sha256').update(KEY_A).digest('hex').slice(0, 16));
  });

  it('refuses near misses: one character off, a prefix, the key twice, a different case', () => {
    const verifier = new ApiKeyVerifier([KEY_A]);
    const lastOff = KEY_A.slice(0, -1) + (KEY_A.endsWith('j') ? 'k' : 'j');
    for (const near of [lastOff, KEY_A.slice(0, -1), KEY_A + KEY_A, KEY_A.toUpperCase()]) {
      expect(verifier.identify(`Bearer ${near}`)).toBeUndefined();
    }
    expect(verifier.identify(`Bearer ${KEY_A}`)).toBeDefined();
  });
});

describe('CORS allowlist', () => {
  const preflight = (app: Hono<{ Variables: SecurityVariables }>, origin: string) =>
    app.request('/loan-decision', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('answers an allowed origin’s preflight without a key, and its requests', async () => {
    const app = secured({ corsOrigins: [ORIGIN, 'http://localhost:5173'] });
    const pre = await preflight(app, ORIGIN);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
      'authorization',
    );
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();

    const res = await post(app, { origin: ORIGIN, ...bearer(KEY_A) });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect(res.headers.get('vary')).toContain('Origin');
    // The browser can read the error too.
    const denied = await post(app, { origin: ORIGIN });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  it('gives other origins no Access-Control-Allow-Origin', async () => {
    const app = secured({ corsOrigins: [ORIGIN] });
    for (const origin of ['https://evil.example', `${ORIGIN}.evil.example`, 'null']) {
      expect((await preflight(app, origin)).headers.get('access-control-allow-origin')).toBeNull();
      const res = await post(app, { origin, ...bearer(KEY_A) });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});

describe('secure headers', () => {
  it('puts a deny-everything CSP and the hardening headers on every API response', async () => {
    const app = secured();
    const responses = [
      await post(app, bearer(KEY_A)),
      await post(app),
      await app.request('/nope', { headers: bearer(KEY_A) }),
      await app.request('/health'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 200]);
    for (const res of responses) {
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      );
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('keeps the policy a page sets for itself', async () => {
    const page = await secured().request('/');
    expect(page.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('rate limiting with @upstash/ratelimit over the Upstash REST bridge', () => {
  const clientIp = (c: { req: { header(name: string): string | undefined } }) =>
    c.req.header('x-test-client-ip');
  const limited = (rateLimit: Partial<RateLimitOptions>, options: Partial<SecurityOptions> = {}) =>
    secured({
      rateLimit: {
        redis: { url: bridge.url, token: bridge.token },
        clientIp,
        prefix: uniquePrefix('rl'),
        // Generous on this shared machine; fail-open has its own tests below.
        timeoutMs: 2_000,
        ...rateLimit,
      },
      ...options,
    });
  const from = (ip: string, key = KEY_A) => ({ 'x-test-client-ip': ip, ...bearer(key) });

  it('429 with Retry-After once an address is over its limit; other addresses pass', async () => {
    const app = limited({ perIp: { requests: 3, windowSeconds: 60 }, perApiKey: false });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(app, from(IPS.one))).status);
    expect(statuses).toEqual([200, 200, 200, 429]);

    const refused = await post(app, from(IPS.one));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(refused.headers.get('ratelimit-limit')).toBe('3');
    const body = await refused.json();
    expect(body.error.code).toBe('rate_limited');
    expect(body.request_id).toBe(refused.headers.get('x-request-id'));

    expect((await post(app, from(IPS.two))).status).toBe(200);
    // Public paths are not limited.
    expect(
      (await app.request('/health', { headers: { 'x-test-client-ip': IPS.one } })).status,
    ).toBe(200);
  });

  it('limits each API key on its own, whatever address it comes from', async () => {
    const app = limited({ perApiKey: { requests: 2, windowSeconds: 60 }, perIp: false });
    expect((await post(app, from(IPS.one, KEY_A))).status).toBe(200);
    expect((await post(app, from(IPS.two, KEY_A))).status).toBe(200);
    const refused = await post(app, from(IPS.three, KEY_A));
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.message).toContain('API key');
    expect((await post(app, from(IPS.one, KEY_B))).status).toBe(200);
    // An invalid key is refused by authentication and does not spend a valid key's budget.
    expect((await post(app, from(IPS.one, KEY_B.replace('B', 'C')))).status).toBe(401);
    expect((await post(app, from(IPS.one, KEY_B))).status).toBe(200);
  });

  it('checks the address and the key in one request to Upstash', async () => {
    const app = limited({
      perIp: { requests: 100, windowSeconds: 60 },
      perApiKey: { requests: 2, windowSeconds: 60 },
    });
    const requests: number[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      bridge.requests = 0;
      statuses.push((await post(app, from(IPS.two, KEY_B))).status);
      requests.push(bridge.requests);
    }
    // The third is over the key's limit while its address is not: both checks were answered.
    expect(statuses).toEqual([200, 200, 429]);
    // The first may also load the limiter's script (EVALSHA answers NOSCRIPT, then EVAL).
    expect(requests.slice(1)).toEqual([1, 1]);
  });

  it('throttles key guessing per address', async () => {
    const app = limited({ perIp: { requests: 2, windowSeconds: 60 } });
    const guesses = [];
    for (let i = 0; i < 3; i++) {
      guesses.push((await post(app, from(IPS.three, `guess-${i}-0123456789abcdefghij`))).status);
    }
    expect(guesses).toEqual([401, 401, 429]);
  });

  it('hands the limiter’s pending work to executionCtx.waitUntil, or to the background hook', async () => {
    const handed: Promise<void>[] = [];
    const app = limited(
      { perIp: { requests: 100, windowSeconds: 60 } },
      {
        background: (work) => handed.push(work),
      },
    );
    const waited: Promise<unknown>[] = [];
    const ctx = {
      waitUntil: (p: Promise<unknown>) => waited.push(p),
      passThroughOnException() {},
      props: {},
    };
    expect((await post(app, from(IPS.two), ctx)).status).toBe(200);
    expect(waited).toHaveLength(1);
    expect(handed).toHaveLength(0);
    expect((await post(app, from(IPS.two))).status).toBe(200);
    expect(handed).toHaveLength(1);
    await Promise.all([...waited, ...handed]);
  });

  it('fails open, logging the reason once, when Upstash answers 500; then skips it (circuit open)', async () => {
    const app = limited({
      perIp: { requests: 1, windowSeconds: 60 },
      perApiKey: false,
      circuitBreaker: { coolDownMs: 60_000 },
    });
    const before = logs.length;
    bridge.fault = 'http500';
    try {
      for (let i = 0; i < 5; i++) expect((await post(app, from(IPS.one))).status).toBe(200);
    } finally {
      bridge.fault = 'none';
    }
    const lines = logs.slice(before).map((l) => JSON.parse(l));
    const failOpen = lines.filter((l) => l.msg === 'rate limit failed open');
    expect(failOpen.map((l) => l.reason)).toEqual(['error', 'circuit_open']);
    expect(failOpen[0]).toMatchObject({ level: 'warn', limiter: 'ip', error: 'UpstashError' });
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'circuit_breaker', store: 'ratelimit', to: 'open' }),
    );
  });

  it('fails open, logging why, when its Upstash client cannot even be built', async () => {
    // @upstash/redis refuses this URL when the limiter builds its client on first use; the
    // request still passes, the log names the setup, and the next request tries again.
    const broken = secured({
      rateLimit: { redis: { url: 'not a url', token: 'x' }, clientIp, perApiKey: false },
    });
    const before = logs.length;
    for (let i = 0; i < 2; i++) expect((await post(broken, from(IPS.one))).status).toBe(200);
    const failOpen = logs
      .slice(before)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'rate limit failed open');
    expect(failOpen).toHaveLength(1); // the second is inside the log interval
    expect(failOpen[0]).toMatchObject({ level: 'warn', limiter: 'setup', reason: 'error' });
    expect(failOpen[0].error).toMatch(/Error/);
  });

  it('fails open within its deadline when Redis stops answering, and limits again when it returns', async () => {
    const own = await startRedisServer();
    const ownBridge = await startUpstashBridge({ redisUrl: own.url, token: 'own-token' });
    const app = secured({
      rateLimit: {
        redis: { url: ownBridge.url, token: ownBridge.token },
        clientIp,
        prefix: uniquePrefix('rl-down'),
        timeoutMs: 300,
        perIp: { requests: 2, windowSeconds: 60 },
        perApiKey: false,
        circuitBreaker: { failureThreshold: 2, coolDownMs: 200 },
      },
    });
    const before = logs.length;
    try {
      expect((await post(app, from(IPS.two))).status).toBe(200);
      await own.stop(); // the bridge now waits on a Redis that is gone

      for (let i = 0; i < 4; i++) {
        const started = performance.now();
        expect((await post(app, from(IPS.two))).status).toBe(200);
        expect(performance.now() - started).toBeLessThan(1_500);
      }
      const reasons = logs
        .slice(before)
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg === 'rate limit failed open')
        .map((l) => l.reason);
      // Usually the deadline trips; if the bridge notices the dead socket first, Redis errors.
      expect(reasons).toHaveLength(2);
      expect(['timeout', 'error']).toContain(reasons[0]);
      expect(reasons[1]).toBe('circuit_open');

      await own.restart();
      await expect
        .poll(async () => (await post(app, from(IPS.two))).status, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe(429);
      // The circuit let a probe through. (It may still read half-open: a reply that arrives after
      // its deadline still fills the limiter's in-memory block list, which then answers alone.)
      const breakerLog = logs.slice(before).filter((l) => l.includes('circuit_breaker'));
      expect(breakerLog.join('\n')).toContain('"to":"half_open"');
    } finally {
      await ownBridge.stop();
      await own.stop();
    }
  });
});
