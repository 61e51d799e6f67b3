/**
 * Upstash Redis over its REST API (@upstash/redis). A read is ONE HTTP request: an explicit
 * pipeline of HMGETs (auto-pipelining would not batch them into one request reliably). Same key
 * layout, decoding and write script as Redis over TCP (redis-commands.ts).
 */
import { Redis, type Requester } from '@upstash/redis';
import type { FeatureViewDefinition } from '../definitions.js';
import { type EntityKeyEncoder, KeyLayout } from './key-layout.js';
import {
  DEFAULT_RECORDS_PER_SCRIPT,
  NEWER_WINS_SCRIPT,
  decodeRedisRead,
  newerWinsInvocations,
  planRedisRead,
  tallyNewerWins,
  type NewerWinsInvocation,
} from './redis-commands.js';
import { raceWithSignal } from './store-support.js';
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

export interface UpstashStoreConfig {
  /** UPSTASH_REDIS_REST_URL */
  readonly url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  readonly token: string;
  /** Key prefix of the entity hashes; default `loan:`. */
  readonly keyPrefix?: string;
  /** Key TTL set on every written hash, in ms; 0 (default) keeps keys forever. */
  readonly keyTtlMs?: number;
  readonly encodeEntityKey?: EntityKeyEncoder;
  /**
   * Upstash's base64 response encoding (the library default) protects non-UTF-8 values; feature
   * values are UTF-8 strings and numbers, so `false` saves the decoding. Default 'base64'.
   */
  readonly responseEncoding?: false | 'base64';
  /** Upper bound of one write request body; default 1 MiB, well under Upstash's 10 MB limit. */
  readonly writeBatchMaxBytes?: number;
  /** Records per write request at most; default 1,000. */
  readonly writeBatchSize?: number;
  /** Write requests in flight at once; default 4. */
  readonly writeConcurrency?: number;
  /** Records per write-script call; default 20 (see redis-commands.ts). */
  readonly recordsPerScript?: number;
  /**
   * Builds the HTTP client the calls go through; default: @upstash/redis's own, over fetch. On
   * Node, `(options) => new NodeHttpUpstashRequester(options)` (upstash-node-http.ts) costs a
   * third of the CPU per call.
   */
  readonly transport?: (options: UpstashTransportOptions) => Requester;
}

/** What a transport needs: where, who, the encoding asked for, and each call's signal. */
export interface UpstashTransportOptions {
  readonly url: string;
  readonly token: string;
  readonly responseEncoding: false | 'base64';
  readonly signal: () => AbortSignal | undefined;
}

const STORE = 'upstash';

export class UpstashStore implements OnlineStore {
  readonly name = STORE;
  /** Each row is checked and set inside one script call (NEWER_WINS_SCRIPT). */
  readonly atomicWrites = true;
  readonly layout: KeyLayout;
  readonly #redis: Redis;
  readonly #keyTtlMs: number;
  readonly #maxBytes: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #perScript: number;
  /**
   * The signal of the request being issued. @upstash/redis takes a signal only in its config;
   * in function form it is read synchronously when the request starts (pipeline.exec() calls
   * fetch before its first await), so setting this around exec() gives each request its own
   * signal. The object form is not used: on abort it answers a fake 200 carrying the reason.
   */
  #currentSignal: AbortSignal | undefined;
  #scriptSha: Promise<string> | undefined;
  readonly #transport: Requester | undefined;

  constructor(config: UpstashStoreConfig) {
    this.layout = new KeyLayout({
      redisKeyPrefix: config.keyPrefix,
      encodeEntityKey: config.encodeEntityKey,
    });
    this.#keyTtlMs = config.keyTtlMs ?? 0;
    this.#maxBytes = config.writeBatchMaxBytes ?? 1024 * 1024;
    this.#batchSize = config.writeBatchSize ?? 1_000;
    this.#concurrency = config.writeConcurrency ?? 4;
    this.#perScript = config.recordsPerScript ?? DEFAULT_RECORDS_PER_SCRIPT;
    this.#redis = new Redis({
      url: config.url,
      token: config.token,
      automaticDeserialization: false,
      enableAutoPipelining: false,
      enableTelemetry: false,
      readYourWrites: false,
      // Retries belong to the caller: the read has a deadline and a fallback store.
      retry: false,
      responseEncoding: config.responseEncoding ?? 'base64',
      signal: (() => this.#currentSignal) as () => AbortSignal,
    });
    this.#transport = config.transport?.({
      url: config.url,
      token: config.token,
      responseEncoding: config.responseEncoding ?? 'base64',
      signal: () => this.#currentSignal,
    });
    if (this.#transport) {
      // @upstash/redis takes a Requester only on its own, without the options above
      // (automaticDeserialization: false above all), so the client built with them gets the
      // transport in place of its HTTP client: every command and pipeline is sent through
      // `client.request()`, read when it is sent. Tests run the store over both.
      (this.#redis as unknown as { client: Requester }).client = this.#transport;
    }
  }

  /** Closes the transport's kept-alive sockets, if it keeps any. */
  async close(): Promise<void> {
    (this.#transport as { destroy?: () => void } | undefined)?.destroy?.();
  }

  async read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options: ReadOptions = {},
  ): Promise<ReadResponse> {
    if (applications.length === 0 || views.length === 0) {
      return { results: applications.map(() => ({}) as ViewResults), servedBy: STORE };
    }
    const pipeline = this.#redis.pipeline();
    for (const { key, fields } of planRedisRead(this.layout, applications, views)) {
      pipeline.hmget(key, ...fields);
    }
    const replies = await this.#exec(() => pipeline.exec(), options.signal, 'read');
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
    const batches = this.#batches(
      newerWinsInvocations(this.layout, records, this.#keyTtlMs, this.#perScript),
    );
    let written = 0;
    let skippedNotNewer = 0;
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        if (options.signal?.aborted) throw new StoreUnavailableError(STORE, 'write aborted');
        const [w, s] = await this.#writeBatch(batches[next++], options.signal);
        written += w;
        skippedNotNewer += s;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, batches.length) }, worker));
    return { written, skippedNotNewer };
  }

  /** Splits script calls into requests, by record count and by an estimate of the body size. */
  #batches(invocations: NewerWinsInvocation[]): NewerWinsInvocation[][] {
    const batches: NewerWinsInvocation[][] = [];
    let batch: NewerWinsInvocation[] = [];
    let records = 0;
    let bytes = 0;
    for (const invocation of invocations) {
      const size = invocation.bytes;
      const count = invocation.keys.length;
      if (
        batch.length > 0 &&
        (records + count > this.#batchSize || bytes + size > this.#maxBytes)
      ) {
        batches.push(batch);
        batch = [];
        records = 0;
        bytes = 0;
      }
      batch.push(invocation);
      records += count;
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  async #writeBatch(
    batch: readonly NewerWinsInvocation[],
    signal: AbortSignal | undefined,
  ): Promise<[number, number]> {
    for (let attempt = 0; ; attempt++) {
      const sha = await this.#loadScript(signal);
      const pipeline = this.#redis.pipeline();
      // The REST body is JSON: the rows travel as text, not as a serialized Buffer.
      for (const { keys, args } of batch) pipeline.evalsha(sha, keys, args.map(String));
      try {
        const replies = await this.#exec(() => pipeline.exec(), signal, 'write');
        return tallyNewerWins(STORE, batch, replies);
      } catch (error) {
        // A flushed or failed-over database forgets scripts; the script is idempotent: redo.
        if (attempt === 0 && String((error as Error).message).includes('NOSCRIPT')) {
          this.#scriptSha = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  #loadScript(signal: AbortSignal | undefined): Promise<string> {
    this.#scriptSha ??= this.#exec(
      () => this.#redis.scriptLoad(NEWER_WINS_SCRIPT),
      signal,
      'SCRIPT LOAD',
    ).then((sha) => {
      if (typeof sha !== 'string')
        throw new StoreUnavailableError(STORE, 'SCRIPT LOAD answered garbage');
      return sha;
    });
    this.#scriptSha.catch(() => (this.#scriptSha = undefined));
    return this.#scriptSha;
  }

  #exec<T>(
    start: () => Promise<T>,
    signal: AbortSignal | undefined,
    operation: string,
  ): Promise<T> {
    let request: Promise<T>;
    this.#currentSignal = signal;
    try {
      request = start();
    } finally {
      this.#currentSignal = undefined;
    }
    return raceWithSignal(
      STORE,
      request.catch((error: unknown) => {
        throw asUnavailable(error, operation);
      }),
      signal,
    );
  }
}

/**
 * @upstash/redis error messages can quote the whole request body ("command was: [...]"), which
 * holds entity keys (PII), or 200 characters of a garbage response; keep only what is safe.
 */
function asUnavailable(error: unknown, operation: string): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const e = error instanceof Error ? error : new Error(String(error));
  let detail: string;
  if (e.name === 'UpstashJSONParseError') detail = 'response is not JSON';
  else if (e.name === 'UpstashError') detail = e.message.split(', command was:')[0].slice(0, 200);
  else detail = `${e.name}: ${e.message}`.slice(0, 200);
  return new StoreUnavailableError(STORE, `${operation} failed: ${detail}`);
}
