import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { Redis as UpstashRedis } from '@upstash/redis';
import { createClient } from 'redis';
import { DynamoDbStore } from '../online/dynamodb.js';
import { createHmacEntityKeyEncoder } from '../online/entity-key-hmac.js';
import { DEFAULT_REDIS_KEY_PREFIX, type EntityKeyEncoder } from '../online/key-layout.js';
import { RedisTcpStore } from '../online/redis-tcp.js';
import type { OnlineStore } from '../online/types.js';
import { UpstashStore } from '../online/upstash.js';
import { NodeHttpUpstashRequester } from '../online/upstash-node-http.js';
import { DynamoDbWatermarkStore } from './dynamodb-watermark-store.js';
import { MaterializationError } from './errors.js';
import { FileWatermarkStore } from './file-watermark-store.js';
import { parquetSourceReader } from './parquet-source.js';
import {
  RedisWatermarkStore,
  nodeRedisScriptRunner,
  upstashScriptRunner,
} from './redis-watermark-store.js';
import type { MaterializeDeps } from './types.js';
import type { WatermarkStore } from './watermark-store.js';

/** Where materialization writes and keeps its state; built from the environment by entry files. */
export interface MaterializeStoreConfig {
  readonly redisUrl?: string;
  readonly upstashUrl?: string;
  readonly upstashToken?: string;
  readonly dynamodbTable?: string;
  /** Same prefix as serving (REDIS_KEY_PREFIX, default `loan:`). */
  readonly redisKeyPrefix?: string;
  /** Optional key TTL on the Redis hashes (REDIS_KEY_TTL_SECONDS); none by default. */
  readonly redisKeyTtlMs?: number;
  /** Forces the JSON-file watermark store (MATERIALIZE_STATE_FILE / --state-file). */
  readonly stateFile?: string;
  /**
   * Keyed hashing of entity keys (ENTITY_KEY_HMAC_SECRET): must be the one serving uses, or the
   * readers will not find what is written here.
   */
  readonly encodeEntityKey?: EntityKeyEncoder;
}

/** No online store is configured: materialization has nowhere to write. */
export class NoStoreConfiguredError extends MaterializationError {
  override readonly name = 'NoStoreConfiguredError';
  constructor() {
    super(
      'no online store configured: set REDIS_URL, or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, and/or DYNAMODB_TABLE',
    );
  }
}

/**
 * Reads the settings serving uses, plus REDIS_KEY_TTL_SECONDS and MATERIALIZE_STATE_FILE. Takes
 * the environment as an argument (Node `process.env`, a Worker `env`): nothing here reads globals.
 */
export function materializeConfigFromEnv(
  env: Record<string, string | undefined>,
): MaterializeStoreConfig {
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);
  const ttlSeconds = value('REDIS_KEY_TTL_SECONDS');
  if (ttlSeconds !== undefined && !(Number(ttlSeconds) > 0)) {
    throw new MaterializationError(`REDIS_KEY_TTL_SECONDS must be a positive number of seconds`);
  }
  if (Boolean(value('UPSTASH_REDIS_REST_URL')) !== Boolean(value('UPSTASH_REDIS_REST_TOKEN'))) {
    throw new MaterializationError(
      'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together',
    );
  }
  return {
    redisUrl: value('REDIS_URL'),
    upstashUrl: value('UPSTASH_REDIS_REST_URL'),
    upstashToken: value('UPSTASH_REDIS_REST_TOKEN'),
    dynamodbTable: value('DYNAMODB_TABLE'),
    redisKeyPrefix: value('REDIS_KEY_PREFIX'),
    redisKeyTtlMs: ttlSeconds === undefined ? undefined : Number(ttlSeconds) * 1000,
    stateFile: value('MATERIALIZE_STATE_FILE'),
    encodeEntityKey: value('ENTITY_KEY_HMAC_SECRET')
      ? createHmacEntityKeyEncoder(value('ENTITY_KEY_HMAC_SECRET')!)
      : undefined,
  };
}

export interface OwnedDeps extends MaterializeDeps {
  /** Closes every client these deps opened. */
  close(): Promise<void>;
}

/**
 * Builds the stores (every configured one) and the watermark store for a source. The watermark
 * lives in DynamoDB when a table is configured (durable, conditional writes, survives a Redis
 * eviction or flush), else in the Redis written to — TCP before Upstash — (the watermark says
 * what that store holds, so it belongs with it), else, only when asked for, in a JSON file.
 *
 * @example
 * const deps = await createMaterializeDeps('s3://bucket/features', materializeConfigFromEnv(process.env));
 * try { console.log(JSON.stringify(await materializeIncremental(deps, { end: Date.now() }))); }
 * finally { await deps.close(); }
 */
export async function createMaterializeDeps(
  source: string,
  config: MaterializeStoreConfig,
  options: { s3?: S3Client; dynamodb?: DynamoDBClient } & Partial<MaterializeDeps> = {},
): Promise<OwnedDeps> {
  const { s3, dynamodb: dynamodbClient, ...overrides } = options;
  const stores: OnlineStore[] = [];
  const closers: (() => Promise<void>)[] = [];
  const { encodeEntityKey } = config;
  const redisOptions = {
    keyPrefix: config.redisKeyPrefix,
    keyTtlMs: config.redisKeyTtlMs,
    encodeEntityKey,
  };
  let watermarks: WatermarkStore | undefined;

  if (config.dynamodbTable) {
    const client = dynamodbClient ?? new DynamoDBClient({});
    if (!dynamodbClient) closers.push(async () => client.destroy());
    stores.push(new DynamoDbStore({ tableName: config.dynamodbTable, client, encodeEntityKey }));
    watermarks = new DynamoDbWatermarkStore(client, config.dynamodbTable);
  }
  if (config.redisUrl) {
    const store = new RedisTcpStore({ url: config.redisUrl, ...redisOptions });
    stores.push(store);
    closers.push(() => store.close());
    if (!watermarks && !config.stateFile) {
      // A connection of its own: the store's client is private, and state traffic is tiny.
      const client = createClient({
        url: config.redisUrl,
        RESP: 2,
        // A Redis that is down must fail the run, not keep it waiting for a connection.
        socket: {
          connectTimeout: 2_000,
          reconnectStrategy: (retries: number, cause: Error) =>
            retries >= 3 ? cause : Math.min(100 * 2 ** retries, 1_000),
        },
      });
      client.on('error', () => {}); // failures surface as command errors (WatermarkStateError)
      await client.connect();
      closers.push(async () => void (await client.close()));
      watermarks = new RedisWatermarkStore(
        nodeRedisScriptRunner(client),
        config.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
      );
    }
  }
  if (config.upstashUrl && config.upstashToken) {
    const store = new UpstashStore({
      url: config.upstashUrl,
      token: config.upstashToken,
      ...redisOptions,
      // node:http instead of fetch, as the serving runtimes (upstash-node-http.ts). A write is up
      // to 1 MiB of script calls; the socket may stay silent while Upstash runs them.
      transport: (options) =>
        new NodeHttpUpstashRequester({ ...options, requestTimeoutMs: 30_000 }),
    });
    stores.push(store);
    closers.push(() => store.close());
    if (!watermarks && !config.stateFile) {
      const client = new UpstashRedis({ url: config.upstashUrl, token: config.upstashToken });
      watermarks = new RedisWatermarkStore(
        upstashScriptRunner(client),
        config.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
      );
    }
  }
  const close = async () => {
    for (const closeOne of closers.reverse()) await closeOne().catch(() => undefined);
  };
  if (stores.length === 0) throw new NoStoreConfiguredError();
  if (config.stateFile) watermarks = new FileWatermarkStore(config.stateFile);
  return {
    source,
    reader: parquetSourceReader({ s3 }),
    stores,
    watermarks: watermarks!,
    ...overrides,
    close,
  };
}
