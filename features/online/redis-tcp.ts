/**
 * Redis over TCP (ElastiCache, a local redis-server) through node-redis. A read is ONE pipelined
 * round trip: every HMGET of every application goes out in a single socket write.
 */
import { createClient, ErrorReply } from 'redis';
import type { FeatureViewDefinition } from '../definitions.js';
import { type EntityKeyEncoder, KeyLayout } from './key-layout.js';
import {
  DEFAULT_RECORDS_PER_SCRIPT,
  NEWER_WINS_SCRIPT,
  decodeRedisRead,
  newerWinsInvocations,
  planRedisRead,
  tallyNewerWins,
} from './redis-commands.js';
import { sliceWrites, writeCount } from './feature-rows.js';
import { raceWithSignal, silentLogger, type StoreLogger } from './store-support.js';
import {
  StoreUnavailableError,
  type EntityKeys,
  type FeatureWrites,
  type OnlineStore,
  type ReadOptions,
  type ReadResponse,
  type ViewResults,
  type WriteResult,
} from './types.js';

export interface RedisTcpStoreConfig {
  /** `redis://` or `rediss://` URL (REDIS_URL). */
  readonly url: string;
  /** Key prefix of the entity hashes; default `loan:`. */
  readonly keyPrefix?: string;
  /** Key TTL set on every written hash, in ms; 0 (default) keeps keys forever. */
  readonly keyTtlMs?: number;
  /** Keyed hashing of entity keys (see key-layout.ts); identity by default. */
  readonly encodeEntityKey?: EntityKeyEncoder;
  /** TCP connect timeout; default 1,000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Commands allowed to wait for replies before new ones fail fast; default 10,000. Bounds the
   * memory a Redis that accepts connections but never answers can pin.
   */
  readonly maxQueuedCommands?: number;
  /** Records per pipelined write batch; default 1,000. */
  readonly writeBatchSize?: number;
  /** Write batches in flight at once; default 4. */
  readonly writeConcurrency?: number;
  /** Records per write-script call; default 20 (see redis-commands.ts). */
  readonly recordsPerScript?: number;
  readonly logger?: StoreLogger;
  /** Lets tests wrap the real client (e.g. a Proxy that counts round trips). */
  readonly wrapClient?: (client: RedisTcpClient) => RedisTcpClient;
}

export type RedisTcpClient = ReturnType<typeof createRedisClient>;

/**
 * Attempts of a FIRST connection before connect() rejects. Once connected, node-redis reconnects
 * forever (reads fail fast meanwhile and the fallback answers); but a store that never
 * connected must fail, or a write without a deadline (a materialization run) would wait forever.
 */
const FIRST_CONNECT_ATTEMPTS = 3;

/** How long close() waits for in-flight replies before it drops the connection. */
const CLOSE_GRACE_MS = 500;

function createRedisClient(config: RedisTcpStoreConfig, hasConnected: () => boolean) {
  return createClient({
    url: config.url,
    RESP: 2,
    // Commands while reconnecting must fail at once (then the fallback answers), not queue up.
    disableOfflineQueue: true,
    commandsQueueMaxLength: config.maxQueuedCommands ?? 10_000,
    socket: {
      connectTimeout: config.connectTimeoutMs ?? 1_000,
      reconnectStrategy: (retries: number, cause: Error) =>
        !hasConnected() && retries >= FIRST_CONNECT_ATTEMPTS
          ? cause
          : Math.min(50 * 2 ** retries, 1_000),
    },
  });
}

const STORE = 'redis';

export class RedisTcpStore implements OnlineStore {
  readonly name = STORE;
  /** Each row is checked and set inside one script call (NEWER_WINS_SCRIPT). */
  readonly atomicWrites = true;
  readonly layout: KeyLayout;
  readonly #client: RedisTcpClient;
  readonly #keyTtlMs: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #perScript: number;
  readonly #logger: StoreLogger;
  #connecting: Promise<void> | undefined;
  #hasConnected = false;
  #scriptSha: Promise<string> | undefined;
  #lastErrorLog = { message: '', at: 0 };

  constructor(config: RedisTcpStoreConfig) {
    this.layout = new KeyLayout({
      redisKeyPrefix: config.keyPrefix,
      encodeEntityKey: config.encodeEntityKey,
    });
    this.#keyTtlMs = config.keyTtlMs ?? 0;
    this.#batchSize = config.writeBatchSize ?? 1_000;
    this.#concurrency = config.writeConcurrency ?? 4;
    this.#perScript = config.recordsPerScript ?? DEFAULT_RECORDS_PER_SCRIPT;
    this.#logger = config.logger ?? silentLogger;
    const client = createRedisClient(config, () => this.#hasConnected);
    // Without an 'error' listener node-redis would crash the process on a connection fault.
    client.on('error', (error: Error) => this.#logConnectionError(error));
    client.on('ready', () => {
      this.#hasConnected = true;
      this.#logger.info({ store: STORE, event: 'connected' });
    });
    this.#client = config.wrapClient ? config.wrapClient(client) : client;
  }

  /** Connects eagerly (optional: the first read connects otherwise). */
  async connect(signal?: AbortSignal): Promise<void> {
    await raceWithSignal(STORE, this.#ensureConnected() ?? Promise.resolve(), signal);
  }

  async read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options: ReadOptions = {},
  ): Promise<ReadResponse> {
    if (applications.length === 0 || views.length === 0) {
      return { results: applications.map(() => ({}) as ViewResults), servedBy: STORE };
    }
    const connecting = this.#ensureConnected();
    if (connecting) await raceWithSignal(STORE, connecting, options.signal);
    const commands = planRedisRead(this.layout, applications, views);
    const pipeline = this.#client.multi();
    for (const { key, fields } of commands) pipeline.sendCommand(['HMGET', key, ...fields]);
    let replies: unknown[];
    try {
      replies = await raceWithSignal(STORE, pipeline.execAsPipeline(), options.signal);
    } catch (error) {
      throw asUnavailable(error, 'read');
    }
    const now = options.now ?? Date.now();
    return {
      results: decodeRedisRead(STORE, replies, applications.length, views, now),
      servedBy: STORE,
    };
  }

  async write(
    records: FeatureWrites,
    options: { signal?: AbortSignal } = {},
  ): Promise<WriteResult> {
    const count = writeCount(records);
    if (count === 0) return { written: 0, skippedNotNewer: 0 };
    const connecting = this.#ensureConnected();
    if (connecting) await raceWithSignal(STORE, connecting, options.signal);
    let written = 0;
    let skippedNotNewer = 0;
    let next = 0;
    const worker = async () => {
      while (next < count) {
        if (options.signal?.aborted) throw new StoreUnavailableError(STORE, 'write aborted');
        const batch = sliceWrites(records, next, (next += this.#batchSize));
        const [w, s] = await this.#writeBatch(batch, options.signal);
        written += w;
        skippedNotNewer += s;
      }
    };
    const workers = Math.min(this.#concurrency, Math.ceil(count / this.#batchSize));
    await Promise.all(Array.from({ length: workers }, worker));
    return { written, skippedNotNewer };
  }

  /**
   * Lets in-flight commands finish for up to `graceMs`, then drops the connection: node-redis's
   * close() waits for every pending reply, which a frozen Redis never sends (a SIGTERM shutdown
   * would hang forever).
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    if (!this.#client.isOpen) return;
    if (!this.#client.isReady) {
      this.#client.destroy();
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = this.#client.close().then(() => true);
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const graceful = await Promise.race([closed, gaveUp]).catch(() => false);
    clearTimeout(timer);
    if (!graceful && this.#client.isOpen) this.#client.destroy();
  }

  async #writeBatch(batch: FeatureWrites, signal?: AbortSignal): Promise<[number, number]> {
    const invocations = newerWinsInvocations(this.layout, batch, this.#keyTtlMs, this.#perScript);
    for (let attempt = 0; ; attempt++) {
      const sha = await raceWithSignal(STORE, this.#loadScript(), signal);
      const pipeline = this.#client.multi();
      for (const { keys, args } of invocations) {
        pipeline.sendCommand(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
      }
      try {
        const replies = await raceWithSignal(STORE, pipeline.execAsPipeline(), signal);
        return tallyNewerWins(STORE, invocations, replies);
      } catch (error) {
        // A restarted or flushed Redis forgets scripts; the script is idempotent, so redo the batch.
        if (attempt === 0 && String((error as Error)?.message).includes('NOSCRIPT')) {
          this.#scriptSha = undefined;
          continue;
        }
        throw asUnavailable(error, 'write');
      }
    }
  }

  #loadScript(): Promise<string> {
    this.#scriptSha ??= (
      this.#client.sendCommand(['SCRIPT', 'LOAD', NEWER_WINS_SCRIPT]) as Promise<string>
    ).catch((error: unknown) => {
      this.#scriptSha = undefined;
      throw asUnavailable(error, 'SCRIPT LOAD');
    });
    return this.#scriptSha;
  }

  /**
   * undefined when ready, so the hot path stays synchronous. A first (or renewed) connect is
   * awaited under the caller's deadline; while node-redis is reconnecting by itself, fail at once
   * so that the fallback answers instead of a queued command waiting for the socket.
   */
  #ensureConnected(): Promise<void> | undefined {
    if (this.#client.isReady) return undefined;
    if (this.#connecting) return this.#connecting;
    if (this.#client.isOpen) throw new StoreUnavailableError(STORE, 'not connected (reconnecting)');
    this.#connecting = this.#client.connect().then(
      () => {
        this.#connecting = undefined;
      },
      (error: unknown) => {
        this.#connecting = undefined;
        throw asUnavailable(error, 'connect');
      },
    );
    this.#connecting.catch(() => {});
    return this.#connecting;
  }

  #logConnectionError(error: Error) {
    const now = Date.now();
    // Reconnect attempts repeat the same error many times a second; log a change or every 10 s.
    if (error.message === this.#lastErrorLog.message && now - this.#lastErrorLog.at < 10_000)
      return;
    this.#lastErrorLog = { message: error.message, at: now };
    this.#logger.warn({ store: STORE, event: 'connection_error', error: error.message });
  }
}

/**
 * Wraps a client failure. Messages of node-redis connection errors name host and port only; reply
 * errors are reduced to their first word so that no key (PII) can leak through them.
 */
function asUnavailable(error: unknown, operation: string): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const message =
    error instanceof ErrorReply
      ? `reply error ${error.message.split(' ')[0]}`
      : error instanceof Error
        ? error.message
        : String(error);
  return new StoreUnavailableError(STORE, `${operation} failed: ${message}`);
}
