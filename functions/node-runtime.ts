import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from 'hono';
import { fileURLToPath } from 'node:url';
import { featureViews } from '../features/definitions.js';
import type { EntityKeyEncoder } from '../features/online/key-layout.js';
import type { OnlineStore } from '../features/online/types.js';
import type { UpstashStoreConfig, UpstashTransportOptions } from '../features/online/upstash.js';
import { loadModel } from '../model/model.js';
import type { RemoteScorer } from '../model/remote-scoring.js';
import { createAppFromConfig } from './app-from-config.js';
import type { createApp } from './app.js';
import { composeStores } from './compose-store.js';
import type { Config } from './config.js';
import { loadRateLimitLibrary } from './http/rate-limit.js';
import { entityKeyEncoderFromConfig, rateLimitedByConfig } from './security-config.js';
import { createLogger, type Logger } from './logger.js';

/**
 * Wiring shared by the Node server and the Lambda handler: config → stores, model → app.
 */

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_MODEL_PATH = path.join(projectRoot, 'model', 'model.onnx');
export const DEFAULT_SAMPLE_DATA_DIR = path.join(projectRoot, 'features', 'sample');

export interface NodeRuntime {
  readonly app: ReturnType<typeof createApp>;
  readonly store: OnlineStore;
  readonly logger: Logger;
  close(): Promise<void>;
}

export async function createNodeRuntime(
  config: Config,
  options: {
    logger?: Logger;
    background?: (work: Promise<void>) => void;
    /** The client address for per-IP rate limits (each adapter knows where it is). */
    clientIp?: (c: Context) => string | undefined;
  } = {},
): Promise<NodeRuntime> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const modelPath = config.MODEL_PATH ? path.resolve(config.MODEL_PATH) : DEFAULT_MODEL_PATH;
  // Upstash over node:http instead of fetch, for the store and the rate limiter: a third of the
  // CPU per call (upstash-node-http.ts).
  const upstashTransport = config.UPSTASH_REDIS_REST_URL
    ? await import('../features/online/upstash-node-http.js').then(
        ({ NodeHttpUpstashRequester }) =>
          (options: UpstashTransportOptions) =>
            new NodeHttpUpstashRequester(options),
      )
    : undefined;
  const [model, store, remoteScorer] = await Promise.all([
    readFile(modelPath).then((bytes) => loadModel(new Uint8Array(bytes))),
    createStore(config, logger, upstashTransport),
    createRemoteScorer(config),
    // Only where rate limiting is on, and now rather than in the first request. Best effort: a
    // failed import must not fail the start; the limiter fails open, logs it and tries again.
    rateLimitedByConfig(config) ? loadRateLimitLibrary().catch(() => undefined) : undefined,
  ]);
  await warmUp(store, logger);
  const app = createAppFromConfig(config, {
    store,
    model,
    logger,
    remoteScorer,
    background: options.background,
    clientIp: options.clientIp ?? (() => undefined),
    upstashTransport,
  });
  return { app, store, logger, close: async () => store.close?.() };
}

/** SageMaker scoring when configured; its SDK is imported only then. Region: AWS_REGION. */
async function createRemoteScorer(config: Config): Promise<RemoteScorer | undefined> {
  if (!config.SAGEMAKER_ENDPOINT) return undefined;
  const { SageMakerScorer } = await import('../model/sagemaker-scorer.js');
  return new SageMakerScorer({
    endpointName: config.SAGEMAKER_ENDPOINT,
    mode: config.SAGEMAKER_MODE,
    contentType: config.SAGEMAKER_CONTENT_TYPE,
    deadlineMs: config.SAGEMAKER_DEADLINE_MS,
  });
}

/**
 * Opens the stores' connections (TCP, TLS, credentials) before the first applicant: a cold
 * DynamoDB or Redis connection takes tens of ms, far over the request deadline. A key that
 * exists nowhere makes the fallback store touch both stores. Failure only logs: the stores may
 * come up later, and requests then get 503 until they do.
 */
async function warmUp(store: OnlineStore, logger: Logger): Promise<void> {
  try {
    await store.read([{ zipcode: 0, dob_ssn: '00000000_0000' }], featureViews, {
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    logger.warn({ msg: 'store warm-up failed; serving anyway', store: store.name, error });
  }
}

/**
 * Region, credentials and AWS_ENDPOINT_URL_DYNAMODB come from the standard AWS environment. With
 * static credentials there (Lambda's, or a laptop's AWS_ACCESS_KEY_ID), reads are signed without
 * an SDK client, whose ~100 ms of module loading was most of a Lambda's first decision
 * (dynamodb-node-http.ts); otherwise an SDK client resolves the rest of the chain (ECS, IMDS,
 * SSO, profiles).
 */
async function createDynamoDbStore(
  tableName: string,
  encodeEntityKey: EntityKeyEncoder | undefined,
): Promise<OnlineStore> {
  const { NodeHttpDynamoDbApi, dynamoDbSigningFromEnv } =
    await import('../features/online/dynamodb-node-http.js');
  const signing = dynamoDbSigningFromEnv(process.env);
  if (signing) {
    const { DynamoDbApiStore } = await import('../features/online/dynamodb-api-store.js');
    return new DynamoDbApiStore({
      tableName,
      api: new NodeHttpDynamoDbApi(signing),
      encodeEntityKey,
    });
  }
  const { DynamoDbStore } = await import('../features/online/dynamodb.js');
  return new DynamoDbStore({
    tableName,
    clientConfig: {},
    encodeEntityKey,
    transport: 'node-http',
  });
}

// Store clients are imported only when configured: `redis` costs ~170 ms and the DynamoDB client
// ~100 ms of module loading, which a deployment that does not use them should not pay.
async function createStore(
  config: Config,
  logger: Logger,
  upstashTransport: UpstashStoreConfig['transport'],
): Promise<OnlineStore> {
  const encodeEntityKey = entityKeyEncoderFromConfig(config);
  let redis: OnlineStore | undefined;
  if (config.UPSTASH_REDIS_REST_URL) {
    const { UpstashStore } = await import('../features/online/upstash.js');
    redis = new UpstashStore({
      url: config.UPSTASH_REDIS_REST_URL,
      token: config.UPSTASH_REDIS_REST_TOKEN!,
      keyPrefix: config.REDIS_KEY_PREFIX,
      encodeEntityKey,
      transport: upstashTransport,
    });
  } else if (config.REDIS_URL) {
    const { RedisTcpStore } = await import('../features/online/redis-tcp.js');
    redis = new RedisTcpStore({
      url: config.REDIS_URL,
      keyPrefix: config.REDIS_KEY_PREFIX,
      encodeEntityKey,
      logger,
    });
  }
  let dynamodb: OnlineStore | undefined;
  if (config.DYNAMODB_TABLE) {
    dynamodb = await createDynamoDbStore(config.DYNAMODB_TABLE, encodeEntityKey);
  }
  const composed = composeStores(
    { redis, dynamodb },
    {
      redisDeadlineMs: config.REDIS_DEADLINE_MS,
      dynamodbDeadlineMs: config.DYNAMODB_DEADLINE_MS,
      readTimeoutMs: config.FEATURE_READ_TIMEOUT_MS,
      logger,
    },
  );
  if (composed) return composed;
  const sampleDir = config.SAMPLE_DATA_DIR ?? DEFAULT_SAMPLE_DATA_DIR;
  logger.info({ msg: 'no online store configured; serving the embedded sample data', sampleDir });
  // Imported here, like every store: its Parquet reader and S3 client took ~49 ms of module
  // evaluation at every cold start (the Lambda bundle, medians of 9 on the bench VM), paid by
  // deployments that never read a Parquet file.
  const { loadEmbeddedStore } = await import('./embedded-store.js');
  return loadEmbeddedStore(sampleDir);
}
