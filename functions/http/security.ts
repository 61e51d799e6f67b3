import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { RequestIdVariables } from 'hono/request-id';
import type { Logger } from '../logger.js';
import {
  rateLimit,
  rateLimitAdmission,
  refusedByRateLimit,
  type RateLimitOptions,
  type RateLimitVariables,
} from './rate-limit.js';

/**
 * The API's security chain: secure headers, the CORS allowlist, rate limiting and bearer API-key
 * authentication. Pure configuration in (no environment reads); the entry files decide the
 * policy. Proposed policy: a key is REQUIRED in every deployed stage (`REQUIRE_API_KEY` defaults
 * to true when NODE_ENV=production or a STAGE is set) and optional on a laptop.
 *
 * Rejections are answered here, in the API's error shape (`{ request_id, error: { code,
 * message } }`), rather than thrown: they then look the same wherever the chain is mounted.
 */

export interface SecurityOptions {
  readonly logger: Logger;
  /** Accepted bearer keys; several at once while rotating. Each ≥ 20 characters (token68). */
  readonly apiKeys?: readonly string[];
  /** Default: true when `apiKeys` is non-empty. True with no keys is a configuration error. */
  readonly requireApiKey?: boolean;
  /** Served without a key and without rate limiting; default `['/', '/health']`. */
  readonly publicPaths?: readonly string[];
  /** Browser origins allowed to call the API (exact `scheme://host[:port]`); default none. */
  readonly corsOrigins?: readonly string[];
  /** Off when absent (e.g. a REDIS_URL-only deployment: see rate-limit.ts). */
  readonly rateLimit?: RateLimitOptions;
  /** Where the limiter's background work goes without an executionCtx (Node, Lambda). */
  readonly background?: (work: Promise<void>) => void;
}

export type SecurityVariables = RequestIdVariables & RateLimitVariables & { apiKeyId: string };

/** Invalid security settings; the message names the setting, never a key. */
export class SecurityConfigError extends Error {
  override readonly name = 'SecurityConfigError';
}

/**
 * A JSON API renders nothing: no scripts, frames, forms or base URL. The demo page at `/` needs
 * its own, looser policy, set by its route (these headers do not overwrite one set by a route).
 */
export const API_CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

export const DEFAULT_PUBLIC_PATHS = ['/', '/health'] as const;

/** hono/secure-headers' defaults, with the API's CSP and frames denied. */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  [
    'Content-Security-Policy',
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  ],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'DENY'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

/**
 * The headers of hono/secure-headers, set BEFORE the handler runs instead of after: the library
 * edits `c.res.headers` once the response exists, which on Node makes @hono/node-server build a
 * full web Response (a ReadableStream and all) for every request — ~30 µs in a profile of the
 * decision path, and checking the headers afterwards still costs ~0.1 ms end to end. They reach
 * every response built through the context (c.json, c.html, c.body, notFound, onError: every
 * route of this app); a route that sets its own header (the demo page's CSP) replaces them.
 */
function apiSecurityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    for (const [name, value] of SECURITY_HEADERS) c.header(name, value);
    await next();
  };
}

const MIN_API_KEY_LENGTH = 20;
// RFC 6750 b64token (token68).
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Verifies bearer keys in constant time. Hand-written instead of hono/bearer-auth because that
 * one throws HTTPExceptions outside the API's error shape and does not say which key matched
 * (the per-key rate limit needs it).
 */
export class ApiKeyVerifier {
  readonly #keys: ReadonlyArray<{ readonly digest: Uint8Array; readonly id: string }>;

  constructor(apiKeys: readonly string[]) {
    this.#keys = apiKeys.map((key, i) => {
      if (key.length < MIN_API_KEY_LENGTH || !TOKEN68.test(key)) {
        throw new SecurityConfigError(
          `API key #${i + 1} in apiKeys (API_KEYS) must be at least ${MIN_API_KEY_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (optionally ending in =)`,
        );
      }
      const digest = sha256(utf8ToBytes(key));
      // Stands for the key in rate-limit keys and logs; a prefix of a hash of a long random key
      // reveals nothing about it.
      return { digest, id: bytesToHex(digest).slice(0, 16) };
    });
  }

  get size(): number {
    return this.#keys.length;
  }

  /** The id of the key in an `Authorization: Bearer …` header, or undefined. */
  identify(authorization: string | undefined): string | undefined {
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token === undefined) return undefined;
    // Equal-length digests compared in full, every key every time: the time taken says nothing
    // about how much of which key matched.
    const presented = sha256(utf8ToBytes(token));
    let match: string | undefined;
    for (const key of this.#keys) {
      if (sameDigest(presented, key.digest) && match === undefined) match = key.id;
    }
    return match;
  }
}

/**
 * The middleware chain, in order: `app.use(...securityMiddleware(options))` right after
 * `requestId()`.
 *
 * @example
 * app.use(requestId());
 * app.use(...securityMiddleware({ logger, apiKeys: ['…'], corsOrigins: ['https://apply.example.com'] }));
 */
export function securityMiddleware(
  options: SecurityOptions,
): MiddlewareHandler<{ Variables: SecurityVariables }>[] {
  const apiKeys = options.apiKeys ?? [];
  const requireApiKey = options.requireApiKey ?? apiKeys.length > 0;
  if (requireApiKey && apiKeys.length === 0) {
    throw new SecurityConfigError(
      'requireApiKey (REQUIRE_API_KEY) is on but apiKeys (API_KEYS) is empty: no request could pass',
    );
  }
  const verifier = new ApiKeyVerifier(apiKeys);
  const publicPaths = new Set(options.publicPaths ?? DEFAULT_PUBLIC_PATHS);
  const isPublicPath = (path: string) => publicPaths.has(path);
  const identifyApiKey = (c: Context) => verifier.identify(c.req.header('authorization'));

  const chain: MiddlewareHandler<{ Variables: SecurityVariables }>[] = [apiSecurityHeaders()];
  // Only with origins to allow: hono's cors appends `Vary` after the handler, which builds a
  // full web Response on Node (~0.1 ms a request, measured); without origins it allows nothing.
  if (options.corsOrigins?.length) chain.push(corsAllowlist(options.corsOrigins));
  if (options.rateLimit) {
    // Before authentication, so guessing keys is throttled per address too.
    chain.push(
      rateLimit(options.rateLimit, {
        logger: options.logger,
        identifyApiKey,
        isPublicPath,
        background: options.background,
      }),
    );
  }
  if (requireApiKey) chain.push(apiKeyAuth(verifier, isPublicPath, options.logger));
  return chain;
}

/** Preflights are answered here (before authentication: browsers send them without a key). */
export function corsAllowlist(origins: readonly string[]): MiddlewareHandler {
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new SecurityConfigError(
        `CORS origin "${origin.slice(0, 100)}" in corsOrigins (CORS_ORIGINS) must be scheme://host[:port] with no path or trailing slash`,
      );
    }
  }
  return cors({
    origin: [...origins],
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposeHeaders: [
      'Retry-After',
      'X-Request-Id',
      'Server-Timing',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
    ],
    maxAge: 600,
    // Bearer keys, not cookies: credentials stay off.
    credentials: false,
  });
}

function apiKeyAuth(
  verifier: ApiKeyVerifier,
  isPublicPath: (path: string) => boolean,
  logger: Logger,
): MiddlewareHandler<{ Variables: SecurityVariables }> {
  return async function apiKeyAuthMiddleware(c, next) {
    if (isPublicPath(c.req.path)) return next();
    const authorization = c.req.header('authorization');
    const id = verifier.identify(authorization);
    if (id !== undefined) {
      c.set('apiKeyId', id);
      return next();
    }
    // A guesser over its address's limit gets the limiter's 429, not a verdict on the key.
    if (!(await rateLimitAdmission(c))) return refusedByRateLimit(c);
    const missing = authorization === undefined;
    const request_id = c.get('requestId');
    logger.info({ msg: 'request rejected', request_id, status: 401, code: 'unauthorized' });
    c.header(
      'WWW-Authenticate',
      missing
        ? 'Bearer realm="loan-decision"'
        : 'Bearer realm="loan-decision", error="invalid_token"',
    );
    return c.json(
      {
        request_id,
        error: {
          code: 'unauthorized',
          message: missing
            ? 'missing API key: send Authorization: Bearer <key>'
            : 'invalid API key',
        },
      },
      401,
    );
  };
}

/**
 * node:crypto's timingSafeEqual for two SHA-256 digests: every byte is compared, wherever they
 * differ. Hand-written, with @noble/hashes for the hash, so that the app does not load
 * node:crypto at all: importing it took ~5 ms of every cold start on the bench VM (a bundle of
 * it alone, median of 11 imports; @noble/hashes/sha2 ~2 ms, and as fast per key: ~3 µs).
 */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
