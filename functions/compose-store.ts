import { FallbackStore } from '../features/online/fallback.js';
import type { OnlineStore } from '../features/online/types.js';
import type { Logger } from './logger.js';

/**
 * Redis (TCP or Upstash) in front, DynamoDB behind: the fallback is a composition of two stores,
 * not branches in the handler. With one store configured it serves alone.
 */
export function composeStores(
  stores: { redis?: OnlineStore; dynamodb?: OnlineStore },
  options: {
    redisDeadlineMs: number;
    dynamodbDeadlineMs: number;
    readTimeoutMs: number;
    logger: Logger;
  },
): OnlineStore | undefined {
  const { redis, dynamodb } = stores;
  if (redis && dynamodb) {
    return new FallbackStore(redis, dynamodb, {
      primaryDeadlineMs: options.redisDeadlineMs,
      secondaryDeadlineMs: options.dynamodbDeadlineMs,
      readTimeoutMs: options.readTimeoutMs,
      logger: options.logger,
    });
  }
  return redis ?? dynamodb;
}
