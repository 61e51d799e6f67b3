import { featureViews } from '../features/definitions.js';
import { DynamoDbApiStore } from '../features/online/dynamodb-api-store.js';
import { FetchDynamoDbApi } from '../features/online/dynamodb-api.js';
import type { OnlineStore } from '../features/online/types.js';
import { UpstashStore } from '../features/online/upstash.js';
import { loadModel } from '../model/model.js';
import modelBytes from '../model/model.onnx';
import type { ExecutionContext } from 'hono';
import { createApp } from './app.js';
import { entityKeyEncoderFromConfig, securityFromConfig } from './security-config.js';
import { composeStores } from './compose-store.js';
import { ConfigError, parseConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';

/**
 * Cloudflare Worker around the one app. Features come from Upstash Redis over REST, backed by
 * DynamoDB over signed `fetch` (FetchDynamoDbApi: the AWS SDK would not fit the bundle budget);
 * a DynamoDB hit refills Upstash through `executionCtx.waitUntil`. The model is bundled as a
 * Data module. Either store may be configured alone.
 * Secrets (`wrangler secret put NAME`): UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN for temporary credentials).
 * Vars: DYNAMODB_TABLE, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local, dynalite).
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
  readonly [setting: string]: unknown;
}

type App = ReturnType<typeof createApp>;

/** One Worker instance: its app is built on the first request and reused while the isolate lives. */
export function createWorker() {
  // Built lazily because env only exists inside handlers.
  let app: Promise<App> | undefined;
  return {
    async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
      app ??= buildApp(env).catch((error: unknown) => {
        app = undefined; // let the next request retry once the settings are fixed
        throw error;
      });
      return (await app).fetch(request, env, ctx);
    },
  };
}

async function buildApp(env: WorkerEnv): Promise<App> {
  const config = parseConfig(env);
  const logger = createLogger(config.LOG_LEVEL);
  const store = createStore(config, env, logger);
  const model = await loadModel(new Uint8Array(modelBytes));
  return createApp({
    decision: {
      store,
      model,
      views: featureViews,
      policy: { threshold: config.DECISION_THRESHOLD },
    },
    logger,
    storeName: store.name,
    maxBodyBytes: config.MAX_BODY_BYTES,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    requestDeadlineMs: config.REDIS_DEADLINE_MS + config.DYNAMODB_DEADLINE_MS,
    maxBatchSize: config.MAX_BATCH_SIZE,
    security: securityFromConfig(config, (c) => c.req.header('cf-connecting-ip')),
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

/** A Worker has no AWS credential chain: region and keys must come from vars and secrets. */
function dynamoDbApi(env: WorkerEnv): FetchDynamoDbApi {
  const setting = (name: keyof WorkerEnv & string) => {
    const value = env[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const required = ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
  const missing = required.filter((name) => !setting(name));
  if (missing.length > 0) {
    throw new ConfigError(
      `invalid configuration: DYNAMODB_TABLE is set but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not ` +
        '(a Worker has no AWS credential chain; wrangler secret put AWS_ACCESS_KEY_ID …)',
    );
  }
  return new FetchDynamoDbApi({
    region: setting('AWS_REGION')!,
    credentials: {
      accessKeyId: setting('AWS_ACCESS_KEY_ID')!,
      secretAccessKey: setting('AWS_SECRET_ACCESS_KEY')!,
      sessionToken: setting('AWS_SESSION_TOKEN'),
    },
    endpoint: setting('AWS_ENDPOINT_URL_DYNAMODB'),
  });
}

export default createWorker();
