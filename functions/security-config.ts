import type { Context } from 'hono';
import { createHmacEntityKeyEncoder } from '../features/online/entity-key-hmac.js';
import type { EntityKeyEncoder } from '../features/online/key-layout.js';
import type { Config } from './config.js';
import type { RateLimitRedisConfig } from './http/rate-limit.js';
import type { SecurityOptions } from './http/security.js';

/**
 * Security settings from config, shared by every runtime. API keys are required by default in
 * deployed stages (NODE_ENV=production or a STAGE); rate limiting is on when Upstash is there.
 */
export function securityFromConfig(
  config: Config,
  clientIp: (c: Context) => string | undefined,
  /** The rate limiter's HTTP client (Node: node:http); default @upstash/redis's, over fetch. */
  upstashTransport?: RateLimitRedisConfig['transport'],
): Omit<SecurityOptions, 'logger' | 'background'> {
  const deployed = config.NODE_ENV === 'production' || Boolean(config.STAGE);
  const rateLimited = rateLimitedByConfig(config);
  const window = config.RATE_LIMIT_WINDOW_SECONDS;
  return {
    apiKeys: config.API_KEYS,
    requireApiKey: config.REQUIRE_API_KEY ?? deployed,
    corsOrigins: config.CORS_ORIGINS,
    rateLimit: rateLimited
      ? {
          redis: {
            url: config.UPSTASH_REDIS_REST_URL!,
            token: config.UPSTASH_REDIS_REST_TOKEN!,
            transport: upstashTransport,
          },
          perApiKey: { requests: config.RATE_LIMIT_PER_KEY, windowSeconds: window },
          perIp: { requests: config.RATE_LIMIT_PER_IP, windowSeconds: window },
          timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
          clientIp,
        }
      : undefined,
  };
}

/** Rate limiting is on when Upstash is configured, unless RATE_LIMIT turns it off. */
export function rateLimitedByConfig(config: Config): boolean {
  return Boolean(config.UPSTASH_REDIS_REST_URL) && (config.RATE_LIMIT ?? true);
}

/** The entity-key encoder every store (and the materializer) must share; none when unset. */
export function entityKeyEncoderFromConfig(config: Config): EntityKeyEncoder | undefined {
  return config.ENTITY_KEY_HMAC_SECRET
    ? createHmacEntityKeyEncoder(config.ENTITY_KEY_HMAC_SECRET)
    : undefined;
}
