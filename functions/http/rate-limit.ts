import type { Ratelimit } from '@upstash/ratelimit';
import type { Redis, Requester } from '@upstash/redis';
import type { Context, MiddlewareHandler } from 'hono';
import type { RequestIdVariables } from 'hono/request-id';
import {
  CircuitBreaker,
  type CircuitBreakerConfig,
} from '../../features/online/circuit-breaker.js';
import type { UpstashTransportOptions } from '../../features/online/upstash.js';
import type { Logger } from '../logger.js';
import { runInBackground } from './background.js';

/**
 * Rate limiting with @upstash/ratelimit (sliding window in Upstash Redis), per API key and per
 * client IP. It FAILS OPEN: a limiter that cannot answer must not take the API down with it.
 * Redis errors, the library's own deadline (`reason: "timeout"`) and an open circuit all let the
 * request through and log why (limiter and reason only — never the IP, key or body).
 *
 * A plain REDIS_URL (TCP) deployment cannot use this: @upstash/ratelimit speaks only the Upstash
 * REST protocol. There, leave it off and limit at the edge (API Gateway usage plans per key, AWS
 * WAF rate-based rules per IP); a per-instance in-memory limit is not a limit when Lambda scales
 * out to many instances.
 */

export interface RateLimitRule {
  /** Requests allowed per window. */
  readonly requests: number;
  readonly windowSeconds: number;
}

/** Where the windows live: an Upstash Redis's REST URL and token. */
export interface RateLimitRedisConfig {
  readonly url: string;
  readonly token: string;
  /** The HTTP client the calls go through (as UpstashStore's); default the library's, over fetch. */
  readonly transport?: (options: UpstashTransportOptions) => Requester;
}

export interface RateLimitOptions {
  /**
   * The Upstash Redis that holds the windows. The limiter makes its own client from these when
   * the libraries load (see createRateLimitRedis for its settings).
   */
  readonly redis: RateLimitRedisConfig;
  /** Default 6,000 per 60 s (100/s) per key: one key serves a whole frontend. `false`: off. */
  readonly perApiKey?: RateLimitRule | false;
  /** Default 600 per 60 s (10/s) per address; also slows down key guessing. `false`: off. */
  readonly perIp?: RateLimitRule | false;
  /**
   * The client address, per runtime: Node `getConnInfo(c).remote.address`
   * (@hono/node-server/conninfo), Lambda `getConnInfo(c).remote.address` (hono/aws-lambda),
   * Workers `c.req.header('cf-connecting-ip')`. Without it (or when it returns undefined) the
   * per-IP limit is skipped. Never trust X-Forwarded-For unless a proxy you run sets it.
   */
  readonly clientIp?: (c: Context) => string | undefined;
  /** Past this the check gives up and the request passes; default 10 ms (the decision budget). */
  readonly timeoutMs?: number;
  /** Redis key prefix of the windows; default `ratelimit:loan-decision`. */
  readonly prefix?: string;
  /** After consecutive failures the limiter is skipped for a while; default 3 failures, 5 s. */
  readonly circuitBreaker?: CircuitBreakerConfig;
}

/** What the rate-limit middleware needs from the rest of the security chain. */
export interface RateLimitWiring {
  readonly logger: Logger;
  /** Id of the request's valid API key, if it carries one. */
  readonly identifyApiKey: (c: Context) => string | undefined;
  readonly isPublicPath: (path: string) => boolean;
  /** Where `pending` work goes when the runtime has no executionCtx (Node, Lambda). */
  readonly background?: (work: Promise<void>) => void;
}

interface RateLimitLibraries {
  readonly Ratelimit: typeof Ratelimit;
  readonly Redis: typeof Redis;
}

let libraries: Promise<RateLimitLibraries> | undefined;

/**
 * @upstash/ratelimit and @upstash/redis, imported on first need rather than with this module.
 * Evaluating them cost every cold start here, including those of deployments that do not limit
 * (embedded, REDIS_URL, DynamoDB alone): @upstash/ratelimit ~3 ms (the cold-start bench's entry,
 * import + model ready beyond Node's start, medians of 15 interleaved runs: 25.3 ms with the
 * static import, 22.2 ms without), @upstash/redis ~7 ms (a bundle of it alone, median of 9
 * imports, against an empty one). A runtime that limits calls this while it starts, so no request
 * waits for it.
 */
export function loadRateLimitLibrary(): Promise<RateLimitLibraries> {
  libraries ??= Promise.all([import('@upstash/ratelimit'), import('@upstash/redis')]).then(
    ([{ Ratelimit }, { Redis }]) => ({ Ratelimit, Redis }),
    (error: unknown) => {
      libraries = undefined; // a later call tries again
      throw error;
    },
  );
  return libraries;
}

export const DEFAULT_PER_API_KEY: RateLimitRule = { requests: 6_000, windowSeconds: 60 };
export const DEFAULT_PER_IP: RateLimitRule = { requests: 600, windowSeconds: 60 };

/**
 * An @upstash/redis client tuned for a limiter that fails open: no retries (a retry after the
 * deadline only adds load to a struggling Redis), no telemetry headers, no sync token. Commands
 * issued in the same tick travel in one /pipeline request (auto-pipelining), so the per-address
 * and per-key checks of a request cost one HTTP round trip, not two: on Node each fetch is a few
 * hundred µs of CPU (undici), and a Worker has a cap on subrequests. Each check still gets its own
 * answer and its own error (the library asks the pipeline to keep errors per command).
 */
function createRateLimitRedis(RedisClient: typeof Redis, config: RateLimitRedisConfig): Redis {
  const redis = new RedisClient({
    url: config.url,
    token: config.token,
    retry: false,
    enableTelemetry: false,
    readYourWrites: false,
    enableAutoPipelining: true,
  });
  if (config.transport) {
    // In place of the library's HTTP client, as UpstashStore does (see there); the limiter has
    // its own deadline, so the calls take no signal.
    (redis as unknown as { client: Requester }).client = config.transport({
      url: config.url,
      token: config.token,
      responseEncoding: 'base64',
      signal: () => undefined,
    });
  }
  return redis;
}

type Scope = 'ip' | 'api_key';
type FailOpenReason = 'timeout' | 'error' | 'circuit_open';

interface Verdict {
  readonly scope: Scope;
  readonly success: boolean;
  readonly limit: number;
  /** epoch ms */
  readonly reset: number;
  readonly pending?: Promise<unknown>;
}

const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

export function rateLimit<V extends RequestIdVariables & RateLimitVariables>(
  options: RateLimitOptions,
  wiring: RateLimitWiring,
): MiddlewareHandler<{ Variables: V }> {
  const { logger } = wiring;
  const prefix = options.prefix ?? 'ratelimit:loan-decision';
  const timeout = options.timeoutMs ?? 10;
  // Rules are checked now, so a bad setting fails the start; the limiters are built once the
  // library has loaded (see loadRateLimitLibrary).
  const rule = (
    given: RateLimitRule | false | undefined,
    fallback: RateLimitRule,
    scope: Scope,
  ) => {
    if (given === false) return undefined;
    const { requests, windowSeconds } = given ?? fallback;
    if (!(Number.isInteger(requests) && requests > 0 && windowSeconds > 0)) {
      throw new RangeError(
        `rate limit ${scope}: requests must be a positive integer and windowSeconds positive`,
      );
    }
    return { requests, windowSeconds };
  };
  const ipRule = options.clientIp ? rule(options.perIp, DEFAULT_PER_IP, 'ip') : undefined;
  const keyRule = rule(options.perApiKey, DEFAULT_PER_API_KEY, 'api_key');
  // Identifiers already over their limit are refused from memory, without a Redis call: the
  // library's ephemeral cache, `${prefix}:${scope}:${identifier}` → blocked until (epoch ms).
  // The middleware reads it too (see knownOverLimit).
  const blocked: Record<Scope, Map<string, number>> = { ip: new Map(), api_key: new Map() };
  const knownOverLimit = (scope: Scope, identifier: string) =>
    (blocked[scope].get(`${prefix}:${scope}:${identifier}`) ?? 0) > Date.now();
  let limiters: Promise<{ byIp?: Ratelimit; byKey?: Ratelimit }> | undefined;
  const loadLimiters = () =>
    (limiters ??= loadRateLimitLibrary().then(({ Ratelimit, Redis }) => {
      const redis = createRateLimitRedis(Redis, options.redis);
      const limiter = (limit: RateLimitRule | undefined, scope: Scope) =>
        limit &&
        new Ratelimit({
          redis,
          limiter: Ratelimit.slidingWindow(limit.requests, `${limit.windowSeconds} s`),
          prefix: `${prefix}:${scope}`,
          timeout,
          ephemeralCache: blocked[scope],
          analytics: false,
        });
      return { byIp: limiter(ipRule, 'ip'), byKey: limiter(keyRule, 'api_key') };
    }));
  const breaker = new CircuitBreaker(
    'ratelimit',
    { failureThreshold: 3, coolDownMs: 5_000, ...options.circuitBreaker },
    logger,
  );
  const logFailOpen = failOpenLogger(logger);

  const check = async (
    ratelimit: Ratelimit,
    scope: Scope,
    identifier: string,
  ): Promise<Verdict> => {
    const pass = (reason: FailOpenReason, error?: unknown, pending?: Promise<unknown>): Verdict => {
      logFailOpen(scope, reason, error);
      return { scope, success: true, limit: 0, reset: 0, pending };
    };
    if (!breaker.allowRequest()) return pass('circuit_open');
    try {
      const result = await ratelimit.limit(identifier);
      if (result.reason === 'timeout') {
        breaker.recordFailure();
        return pass('timeout', undefined, result.pending);
      }
      // A refusal from the in-memory cache says nothing about Redis's health.
      if (result.reason === 'cacheBlock') breaker.recordInconclusive();
      else breaker.recordSuccess();
      return { scope, ...result };
    } catch (error) {
      breaker.recordFailure();
      return pass('error', error);
    }
  };

  return async function rateLimitMiddleware(c, next) {
    if (wiring.isPublicPath(c.req.path)) return next();
    let loaded: Awaited<ReturnType<typeof loadLimiters>>;
    try {
      loaded = await loadLimiters();
    } catch (error) {
      // The libraries could not be imported or the client not built: fail open, retry later.
      limiters = undefined;
      logFailOpen('setup', 'error', error);
      return next();
    }
    const { byIp, byKey } = loaded;
    const checks: Promise<Verdict>[] = [];
    const ip = byIp ? options.clientIp?.(c) : undefined;
    if (byIp && ip) checks.push(check(byIp, 'ip', ip));
    const keyId = byKey ? wiring.identifyApiKey(c) : undefined;
    if (byKey && keyId) checks.push(check(byKey, 'api_key', keyId));
    if (checks.length === 0) return next();

    // The checks' round trip overlaps the rest of the request (authentication, the decision's
    // feature read) instead of preceding it: with Upstash serving the features too, a decision
    // then waits for one round trip, not two. Whatever answers or logs first waits for the verdict
    // (rateLimitAdmission); a refused request gets this middleware's 429 whatever was produced.
    // A client known to be over a limit waits for its verdict first, as before: its refusals
    // then cost no feature read.
    const verdicts = Promise.all(checks);
    const refusal = verdicts.then(
      (all) => all.filter((v) => !v.success).sort((a, b) => b.reset - a.reset)[0],
    );
    const overlap = !(
      (ip !== undefined && knownOverLimit('ip', ip)) ||
      (keyId !== undefined && knownOverLimit('api_key', keyId))
    );
    c.set(
      'rateLimitAdmission',
      refusal.then((refused) => refused === undefined),
    );
    if (overlap) await next();
    const pending = (await verdicts).flatMap((v) => (v.pending ? [v.pending] : []));
    if (pending.length > 0) {
      runInBackground(
        c,
        Promise.allSettled(pending).then(() => {}),
        wiring.background,
      );
    }
    const refused = await refusal;
    if (!refused) {
      if (!overlap) await next();
      return;
    }

    const retryAfter = Math.max(1, Math.ceil((refused.reset - Date.now()) / 1000));
    const request_id = c.get('requestId');
    logger.info({
      msg: 'request rejected',
      request_id,
      status: 429,
      code: 'rate_limited',
      limiter: refused.scope,
    });
    const who = refused.scope === 'ip' ? 'this client address' : 'this API key';
    // Dropped first, so that nothing of what the request produced (its headers included) is
    // merged into the 429; the headers prepared before it (security headers, request id) stay.
    if (overlap) c.res = undefined;
    c.res = c.json(
      {
        request_id,
        error: {
          code: 'rate_limited',
          message: `too many requests for ${who}; retry after ${retryAfter} s`,
        },
      },
      429,
      {
        'Retry-After': String(retryAfter),
        'RateLimit-Limit': String(refused.limit),
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': String(retryAfter),
      },
    );
  };
}

/** The rate limiter's context variable (see rateLimitAdmission). */
export type RateLimitVariables = { rateLimitAdmission?: Promise<boolean> };

/**
 * Whether the rate limiter lets this request through (true without a limiter). Call it before
 * answering or logging anything about the request: the limiter's verdict arrives while the
 * request is handled, and a refused request's answer is the limiter's 429, whatever the handler
 * returns (`refusedByRateLimit` is the placeholder to return).
 */
export async function rateLimitAdmission(c: Context): Promise<boolean> {
  return (await (c.get('rateLimitAdmission') as Promise<boolean> | undefined)) ?? true;
}

/** What a handler returns for a refused request; the rate-limit middleware answers instead. */
export function refusedByRateLimit(c: Context): Response {
  return c.body(null, 429);
}

/**
 * One warning per limiter and reason every 10 s, with the count it stood for: a Redis outage
 * must be visible without writing a log line per request.
 */
function failOpenLogger(logger: Logger) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (scope: Scope | 'setup', reason: FailOpenReason, error?: unknown) => {
    const key = `${scope}:${reason}`;
    const now = Date.now();
    const entry = last.get(key);
    if (entry && now - entry.at < FAIL_OPEN_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    last.set(key, { at: now, suppressed: 0 });
    logger.warn({
      msg: 'rate limit failed open',
      limiter: scope,
      reason,
      // The name only: @upstash/redis error messages quote the command, which holds the identifier.
      error: error instanceof Error ? error.name : undefined,
      suppressed_since_last: entry?.suppressed ?? 0,
    });
  };
}
