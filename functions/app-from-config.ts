import type { Context } from 'hono';
import { featureViews } from '../features/definitions.js';
import type { OnlineStore } from '../features/online/types.js';
import type { RemoteScorer } from '../model/remote-scoring.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { ScoringModel } from './decision.js';
import type { RateLimitRedisConfig } from './http/rate-limit.js';
import type { Logger } from './logger.js';
import { securityFromConfig } from './security-config.js';

/**
 * Config → app, the same for every runtime: each adapter builds its stores and model its own way
 * (TCP and the AWS SDK on Node, fetch on Workers) and hands them here.
 */
export function createAppFromConfig(
  config: Config,
  parts: {
    store: OnlineStore;
    model: ScoringModel;
    logger: Logger;
    remoteScorer?: RemoteScorer;
    background?: (work: Promise<void>) => void;
    /** The client address for per-IP rate limits. */
    clientIp: (c: Context) => string | undefined;
    /** The rate limiter's HTTP client to Upstash; default @upstash/redis's (fetch). */
    upstashTransport?: RateLimitRedisConfig['transport'];
  },
) {
  const { store, model, logger } = parts;
  return createApp({
    decision: {
      store,
      model,
      views: featureViews,
      policy: { threshold: config.DECISION_THRESHOLD },
      remoteScorer: parts.remoteScorer,
      logger,
    },
    logger,
    storeName: store.name,
    maxBodyBytes: config.MAX_BODY_BYTES,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    // One store alone has no fallback to hand a slow read to: it gets the same give-up time as
    // the Redis → DynamoDB fallback's last resort (a late answer beats a 503).
    requestDeadlineMs: Math.max(
      config.FEATURE_READ_TIMEOUT_MS,
      config.REDIS_DEADLINE_MS + config.DYNAMODB_DEADLINE_MS,
    ),
    maxBatchSize: config.MAX_BATCH_SIZE,
    background: parts.background,
    security: securityFromConfig(config, parts.clientIp, parts.upstashTransport),
  });
}
