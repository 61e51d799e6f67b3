import { Redis } from '@upstash/redis';
import {
  consumeMaterializationMessage,
  dispatchMaterialization,
  type DispatchResult,
} from '../features/materialize/fan-out.js';
import {
  RedisWatermarkStore,
  upstashScriptRunner,
} from '../features/materialize/redis-watermark-store.js';
import type { MaterializeDeps } from '../features/materialize/types.js';
import { InvalidUnitMessageError } from '../features/materialize/unit-message.js';
import {
  S3FetchSourceReader,
  type S3FetchSourceConfig,
} from '../features/offline/s3-fetch-source.js';
import { DynamoDbApiStore } from '../features/online/dynamodb-api-store.js';
import type { DynamoDbApi } from '../features/online/dynamodb-api.js';
import type { EntityKeyEncoder } from '../features/online/key-layout.js';
import type { OnlineStore } from '../features/online/types.js';
import { UpstashStore } from '../features/online/upstash.js';
import { ConfigError } from './config.js';
import type { Logger } from './logger.js';

/**
 * Materialization on Cloudflare, from the same core as the CLI and the Lambdas
 * (features/materialize): the cron's `scheduled` plans the window and enqueues its units on a
 * Queue; the Queue's consumer runs one unit a message. Built only from explicit settings:
 * functions/worker.ts reads `env` and passes them in.
 *
 * Nothing here may pull in features/materialize/deps.ts (node-redis, the AWS SDK): S3 is read
 * over signed fetch (S3FetchSourceReader) and DynamoDB written over FetchDynamoDbApi.
 */

/** The slices of the Workers runtime types used here (no @cloudflare/workers-types in the project). */
export interface UnitQueueProducer {
  sendBatch(messages: Iterable<{ body: unknown }>): Promise<unknown>;
}
export interface UnitQueueMessage {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}
export interface UnitMessageBatch {
  readonly queue: string;
  readonly messages: readonly UnitQueueMessage[];
}

/** Cloudflare Queues' sendBatch limit (messages per call). */
const QUEUE_BATCH_LIMIT = 100;

/**
 * Rows per unit on Workers. Each unit runs in one consumer invocation, which has a subrequest cap
 * (10,000 on the paid plan) and a CPU-time limit (30 s by default): 100,000 rows are ~4,000
 * DynamoDB BatchWriteItem + 1,000 BatchGetItem calls. The CLI's 1,000,000 would not fit.
 */
export const WORKER_MAX_ROWS_PER_UNIT = 100_000;

export interface WorkerMaterializeSettings {
  /** MATERIALIZE_SOURCE: `s3://bucket/prefix`. */
  readonly source: string;
  readonly s3: S3FetchSourceConfig;
  readonly upstash?: { readonly url: string; readonly token: string };
  readonly dynamodb?: { readonly tableName: string; readonly api: DynamoDbApi };
  /** REDIS_KEY_PREFIX, the same as serving. */
  readonly redisKeyPrefix: string;
  /** REDIS_KEY_TTL_SECONDS as ms; none by default. */
  readonly redisKeyTtlMs?: number;
  /** The serving encoder (ENTITY_KEY_HMAC_SECRET), or stored keys would never be found. */
  readonly encodeEntityKey?: EntityKeyEncoder;
  readonly maxRowsPerUnit?: number;
}

/**
 * Stores, watermarks and the S3 reader for the Worker.
 *
 * Watermarks and window-completion sets live in Upstash (RedisWatermarkStore over EVAL), even when
 * DynamoDB is configured: DynamoDbWatermarkStore is written against the AWS SDK client, which the
 * bundle budget rules out. So on Workers, Upstash is required for materialization.
 *
 * Known limitation: DynamoDbApiStore protects newer values with BatchGetItem then BatchWriteItem
 * (not a conditional write), so two CONCURRENT writers of the same entity could let an older row
 * win. The Queue consumer therefore runs with `max_concurrency: 1` (wrangler.jsonc): units run
 * one after another; re-runs and late units are still safe because each write is compared with
 * what is stored when it runs.
 *
 * @example
 * const deps = createWorkerMaterializeDeps({ source: 's3://features/base', s3: { region: 'auto',
 *   endpoint: env.AWS_ENDPOINT_URL_S3, credentials }, upstash: { url, token }, redisKeyPrefix: 'loan:' });
 */
export function createWorkerMaterializeDeps(settings: WorkerMaterializeSettings): MaterializeDeps {
  if (!settings.source.startsWith('s3://')) {
    throw new ConfigError(
      `MATERIALIZE_SOURCE must be an s3://bucket/prefix location on Workers (no filesystem), got "${settings.source}"`,
    );
  }
  if (!settings.upstash) {
    throw new ConfigError(
      'materialization on Workers keeps its watermarks in Upstash: set UPSTASH_REDIS_REST_URL and ' +
        'UPSTASH_REDIS_REST_TOKEN (the DynamoDB watermark store needs the AWS SDK, too big for a Worker)',
    );
  }
  const { encodeEntityKey, redisKeyPrefix: keyPrefix } = settings;
  const stores: OnlineStore[] = [
    new UpstashStore({
      ...settings.upstash,
      keyPrefix,
      keyTtlMs: settings.redisKeyTtlMs,
      encodeEntityKey,
    }),
  ];
  if (settings.dynamodb)
    stores.push(new DynamoDbApiStore({ ...settings.dynamodb, encodeEntityKey }));
  return {
    source: settings.source,
    reader: new S3FetchSourceReader(settings.s3),
    stores,
    watermarks: new RedisWatermarkStore(
      upstashScriptRunner(new Redis(settings.upstash)),
      keyPrefix,
    ),
    maxRowsPerUnit: settings.maxRowsPerUnit ?? WORKER_MAX_ROWS_PER_UNIT,
  };
}

/**
 * The cron side: plans the window ending at the trigger's scheduled time and enqueues its units.
 * A failed send throws (the cron run is marked failed); the next trigger re-plans the same
 * window, and units sent twice are idempotent.
 */
export async function scheduleMaterialization(
  deps: MaterializeDeps,
  queue: UnitQueueProducer,
  scheduledTime: number,
  logger: Logger,
): Promise<DispatchResult> {
  const started = Date.now();
  const result = await dispatchMaterialization(
    deps,
    { end: scheduledTime },
    (bodies) => queue.sendBatch(bodies.map((body) => ({ body }))).then(() => undefined),
    QUEUE_BATCH_LIMIT,
  );
  const { plan, advancedNow } = result;
  logger.info({
    msg: 'materialization planned',
    window_id: plan.windowId,
    end: new Date(plan.end).toISOString(),
    units: plan.units.length,
    rows_planned: plan.units.reduce((sum, unit) => sum + unit.rows, 0),
    views: plan.stats,
    advanced_now: advancedNow,
    duration_ms: Date.now() - started,
  });
  return result;
}

/**
 * The Queue side: one unit per message, one after another. Success → ack; a body that is not a
 * unit → ack and log (redelivery would fail forever); any other failure → retry with backoff,
 * ending in the dead-letter queue after `max_retries`.
 */
export async function consumeMaterializationBatch(
  deps: MaterializeDeps,
  batch: UnitMessageBatch,
  logger: Logger,
): Promise<void> {
  for (const message of batch.messages) {
    const started = Date.now();
    try {
      const result = await consumeMaterializationMessage(deps, message.body);
      logger.info({
        msg: 'materialization unit done',
        message_id: message.id,
        attempts: message.attempts,
        ...result,
        duration_ms: Date.now() - started,
      });
      message.ack();
    } catch (error) {
      // Only name and message: causes of store errors may quote a request.
      const reason = { name: (error as Error).name, message: (error as Error).message };
      if (error instanceof InvalidUnitMessageError) {
        logger.error({
          msg: 'invalid materialization message dropped',
          message_id: message.id,
          error: reason,
        });
        message.ack();
        continue;
      }
      logger.error({
        msg: 'materialization unit failed',
        message_id: message.id,
        attempts: message.attempts,
        error: reason,
      });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

/** 10 s, 20 s, 40 s, … capped at 5 minutes: room for a store to recover between attempts. */
function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 10 * 2 ** Math.max(0, attempts - 1));
}
