import { DynamoDbApiStore } from '../features/online/dynamodb-api-store.js';
import { FetchDynamoDbApi } from '../features/online/dynamodb-api.js';
import type { OnlineStore } from '../features/online/types.js';
import { UpstashStore } from '../features/online/upstash.js';
import { loadModel } from '../model/model.js';
import modelBytes from '../model/model.onnx';
import type { ExecutionContext } from 'hono';
import { createAppFromConfig } from './app-from-config.js';
import type { createApp } from './app.js';
import { entityKeyEncoderFromConfig } from './security-config.js';
import { composeStores } from './compose-store.js';
import { ConfigError, parseConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import {
  consumeMaterializationBatch,
  createWorkerMaterializeDeps,
  scheduleMaterialization,
  type UnitMessageBatch,
  type UnitQueueProducer,
} from './worker-materialize.js';
import type { MaterializeDeps } from '../features/materialize/types.js';

/**
 * Cloudflare Worker around the one app. Features come from Upstash Redis over REST, backed by
 * DynamoDB over signed `fetch` (FetchDynamoDbApi: the AWS SDK would not fit the bundle budget);
 * a DynamoDB hit refills Upstash through `executionCtx.waitUntil`. The model is bundled as a
 * Data module. Either store may be configured alone.
 * Secrets (`wrangler secret put NAME`): UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN for temporary credentials).
 * Vars: DYNAMODB_TABLE, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local, dynalite).
 *
 * Materialization (worker-materialize.ts): the cron trigger's `scheduled` plans a window and
 * enqueues its units on MATERIALIZE_QUEUE; `queue` consumes them. Vars: MATERIALIZE_SOURCE
 * (s3://bucket/prefix), AWS_ENDPOINT_URL_S3 (R2, MinIO, s3rver), REDIS_KEY_TTL_SECONDS,
 * MATERIALIZE_MAX_ROWS_PER_UNIT; S3 is read with the AWS_* credentials above.
 */

export interface WorkerEnv {
  readonly UPSTASH_REDIS_REST_URL?: string;
  readonly UPSTASH_REDIS_REST_TOKEN?: string;
  readonly DYNAMODB_TABLE?: string;
  readonly AWS_REGION?: string;
  readonly AWS_ACCESS_KEY_ID?: string;
  readonly AWS_SECRET_ACCESS_KEY?: string;
  readonly AWS_SESSION_TOKEN?: string;
  readonly AWS_ENDPOINT_URL_DYNAMODB?: string;
  readonly AWS_ENDPOINT_URL_S3?: string;
  readonly MATERIALIZE_SOURCE?: string;
  /** Queue binding (wrangler.jsonc `queues.producers`) the cron enqueues units on. */
  readonly MATERIALIZE_QUEUE?: UnitQueueProducer;
  readonly [setting: string]: unknown;
}

/** The parts of a Cron Trigger's ScheduledController the handler reads. */
export interface ScheduledTrigger {
  readonly scheduledTime: number;
  readonly cron: string;
}

type App = ReturnType<typeof createApp>;

/**
 * One Worker instance: its app (and materialization deps) are built on first use and reused
 * while the isolate lives.
 */
export function createWorker() {
  // Built lazily because env only exists inside handlers.
  let app: Promise<App> | undefined;
  let materialization: Materialization | undefined;
  const materializationFor = (env: WorkerEnv) => (materialization ??= buildMaterialization(env));
  return {
    async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
      app ??= buildApp(env).catch((error: unknown) => {
        app = undefined; // let the next request retry once the settings are fixed
        throw error;
      });
      return (await app).fetch(request, env, ctx);
    },

    /** Cron Trigger: plan the window ending at the scheduled time, enqueue its units. */
    async scheduled(controller: ScheduledTrigger, env: WorkerEnv, _ctx: ExecutionContext) {
      const { deps, logger } = materializationFor(env);
      if (!env.MATERIALIZE_QUEUE) {
        throw new ConfigError(
          'MATERIALIZE_QUEUE is not bound: add the queue producer to wrangler.jsonc (queues.producers)',
        );
      }
      await scheduleMaterialization(deps, env.MATERIALIZE_QUEUE, controller.scheduledTime, logger);
    },

    /** Queue consumer: one materialization unit per message (ack, or retry with backoff). */
    async queue(batch: UnitMessageBatch, env: WorkerEnv, _ctx: ExecutionContext) {
      const { deps, logger } = materializationFor(env);
      await consumeMaterializationBatch(deps, batch, logger);
    },
  };
}

interface Materialization {
  readonly deps: MaterializeDeps;
  readonly logger: Logger;
}

/** Throws a ConfigError naming the missing setting; nothing is cached then. */
function buildMaterialization(env: WorkerEnv): Materialization {
  const config = parseConfig(env);
  const source = setting(env, 'MATERIALIZE_SOURCE');
  if (!source) {
    throw new ConfigError(
      'materialization needs MATERIALIZE_SOURCE (s3://bucket/prefix of the Parquet sources) in wrangler.jsonc vars',
    );
  }
  const numberSetting = (name: string) => {
    const value = setting(env, name);
    if (value === undefined) return undefined;
    if (!(Number(value) > 0))
      throw new ConfigError(`invalid configuration: ${name} must be a positive number`);
    return Number(value);
  };
  const ttlSeconds = numberSetting('REDIS_KEY_TTL_SECONDS');
  const deps = createWorkerMaterializeDeps({
    source,
    s3: {
      ...awsSettings(env, 'MATERIALIZE_SOURCE'),
      endpoint: setting(env, 'AWS_ENDPOINT_URL_S3'),
    },
    upstash: config.UPSTASH_REDIS_REST_URL
      ? { url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN! }
      : undefined,
    dynamodb: config.DYNAMODB_TABLE
      ? // Writes may wait: aws4fetch retries throttling and 5xx answers here, unlike serving reads.
        { tableName: config.DYNAMODB_TABLE, api: dynamoDbApi(env, { retries: 3 }) }
      : undefined,
    redisKeyPrefix: config.REDIS_KEY_PREFIX,
    redisKeyTtlMs: ttlSeconds === undefined ? undefined : ttlSeconds * 1000,
    encodeEntityKey: entityKeyEncoderFromConfig(config),
    maxRowsPerUnit: numberSetting('MATERIALIZE_MAX_ROWS_PER_UNIT'),
  });
  return { deps, logger: createLogger(config.LOG_LEVEL) };
}

async function buildApp(env: WorkerEnv): Promise<App> {
  const config = parseConfig(env);
  const logger = createLogger(config.LOG_LEVEL);
  const store = createStore(config, env, logger);
  const model = await loadModel(new Uint8Array(modelBytes));
  return createAppFromConfig(config, {
    store,
    model,
    logger,
    clientIp: (c) => c.req.header('cf-connecting-ip'),
  });
}

function createStore(config: Config, env: WorkerEnv, logger: Logger): OnlineStore {
  const encodeEntityKey = entityKeyEncoderFromConfig(config);
  const redis = config.UPSTASH_REDIS_REST_URL
    ? new UpstashStore({
        url: config.UPSTASH_REDIS_REST_URL,
        token: config.UPSTASH_REDIS_REST_TOKEN!,
        keyPrefix: config.REDIS_KEY_PREFIX,
        encodeEntityKey,
      })
    : undefined;
  const dynamodb = config.DYNAMODB_TABLE
    ? new DynamoDbApiStore({
        tableName: config.DYNAMODB_TABLE,
        api: dynamoDbApi(env),
        encodeEntityKey,
      })
    : undefined;
  const store = composeStores(
    { redis, dynamodb },
    {
      redisDeadlineMs: config.REDIS_DEADLINE_MS,
      dynamodbDeadlineMs: config.DYNAMODB_DEADLINE_MS,
      readTimeoutMs: config.FEATURE_READ_TIMEOUT_MS,
      logger,
    },
  );
  if (!store) {
    throw new ConfigError(
      'the Worker needs an online store: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN ' +
        '(wrangler secret put …), or DYNAMODB_TABLE with AWS_REGION, AWS_ACCESS_KEY_ID and ' +
        'AWS_SECRET_ACCESS_KEY, or both',
    );
  }
  return store;
}

function setting(env: WorkerEnv, name: string): string | undefined {
  const value = env[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A Worker has no AWS credential chain: region and keys must come from vars and secrets.
 * `reason` names the setting that needs them, for the error.
 */
function awsSettings(env: WorkerEnv, reason: string) {
  const required = ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
  const missing = required.filter((name) => !setting(env, name));
  if (missing.length > 0) {
    throw new ConfigError(
      `invalid configuration: ${reason} is set but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not ` +
        '(a Worker has no AWS credential chain; wrangler secret put AWS_ACCESS_KEY_ID …)',
    );
  }
  return {
    region: setting(env, 'AWS_REGION')!,
    credentials: {
      accessKeyId: setting(env, 'AWS_ACCESS_KEY_ID')!,
      secretAccessKey: setting(env, 'AWS_SECRET_ACCESS_KEY')!,
      sessionToken: setting(env, 'AWS_SESSION_TOKEN'),
    },
  };
}

function dynamoDbApi(env: WorkerEnv, options: { retries?: number } = {}): FetchDynamoDbApi {
  return new FetchDynamoDbApi({
    ...awsSettings(env, 'DYNAMODB_TABLE'),
    endpoint: setting(env, 'AWS_ENDPOINT_URL_DYNAMODB'),
    retries: options.retries,
  });
}

export default createWorker();
