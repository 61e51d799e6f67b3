/**
 * DynamoDB online store over a `DynamoDbApi` (dynamodb-api.ts): one item per entity (layout in
 * key-layout.ts). A read is ONE BatchGetItem for every key of every application (eventually
 * consistent: half the cost, and the materializer's writes settle in well under a second).
 * Free of AWS SDK runtime code, so the Worker can bundle it with `FetchDynamoDbApi`; Node and
 * Lambda use `DynamoDbStore` (dynamodb.ts), which adds the SDK client.
 */
import type {
  AttributeValue,
  BatchGetItemInput,
  BatchGetItemOutput,
  BatchWriteItemInput,
  BatchWriteItemOutput,
  KeysAndAttributes,
  WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';
import { DynamoDbApiError, type DynamoDbApi } from './dynamodb-api.js';
import {
  DYNAMODB_PARTITION_KEY,
  type EntityKeyEncoder,
  KeyLayout,
  viewFieldNames,
} from './key-layout.js';
import {
  decodeFeatureValue,
  decodeTimestamp,
  encodeFeatureValue,
  raceWithSignal,
} from './store-support.js';
import {
  StoreUnavailableError,
  viewStatus,
  type EntityKeys,
  type FeatureRecord,
  type FeatureWrites,
  type OnlineStore,
  type ReadOptions,
  type ReadResponse,
  type ViewResult,
  type ViewResults,
  type WriteResult,
} from './types.js';
import { featureRecords } from './feature-rows.js';

export interface DynamoDbApiStoreConfig {
  /** DYNAMODB_TABLE */
  readonly tableName: string;
  /**
   * The two calls the store makes: `NodeHttpDynamoDbApi` (serving on Node, Lambda),
   * `SdkDynamoDbApi` (the materializer) or `FetchDynamoDbApi` (Workers).
   */
  readonly api: DynamoDbApi;
  readonly encodeEntityKey?: EntityKeyEncoder;
  /** First backoff before retrying UnprocessedKeys/UnprocessedItems; doubles each time. Default 5 ms. */
  readonly retryBaseDelayMs?: number;
  /** Attempts for unprocessed write items before the write fails; default 10. */
  readonly maxWriteAttempts?: number;
  /** BatchGetItem/BatchWriteItem calls in flight during write(); default 4. */
  readonly writeConcurrency?: number;
}

const STORE = 'dynamodb';
const MAX_GET_KEYS = 100; // BatchGetItem limit
const MAX_WRITE_ITEMS = 25; // BatchWriteItem limit

type Item = Record<string, AttributeValue>;

export class DynamoDbApiStore implements OnlineStore {
  readonly name = STORE;
  readonly layout: KeyLayout;
  readonly tableName: string;
  readonly api: DynamoDbApi;
  readonly #baseDelayMs: number;
  readonly #maxWriteAttempts: number;
  readonly #concurrency: number;

  constructor(config: DynamoDbApiStoreConfig) {
    this.tableName = config.tableName;
    this.api = config.api;
    this.layout = new KeyLayout({ encodeEntityKey: config.encodeEntityKey });
    this.#baseDelayMs = config.retryBaseDelayMs ?? 5;
    this.#maxWriteAttempts = config.maxWriteAttempts ?? 10;
    this.#concurrency = config.writeConcurrency ?? 4;
  }

  /** Releases the api's kept-alive sockets (NodeHttpDynamoDbApi); the store owns its api. */
  async close(): Promise<void> {
    this.api.destroy?.();
  }

  async read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options: ReadOptions = {},
  ): Promise<ReadResponse> {
    if (applications.length === 0 || views.length === 0) {
      return { results: applications.map(() => ({}) as ViewResults), servedBy: STORE };
    }
    const pks: string[][] = applications.map((application) =>
      views.map((view) =>
        this.layout.dynamoPartitionKey(view.entity.name, application[view.entity.name]),
      ),
    );
    // BatchGetItem rejects duplicate keys; applications often share a zipcode.
    const unique = [...new Set(pks.flat())];
    // More than 100 keys (over 50 applications) cannot fit one call: the chunks go out concurrently,
    // so the latency is still one round trip.
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += MAX_GET_KEYS)
      chunks.push(unique.slice(i, i + MAX_GET_KEYS));
    const items = new Map<string, Item>();
    await Promise.all(chunks.map((chunk) => this.#batchGet(chunk, items, options.signal)));
    const now = options.now ?? Date.now();
    const results = pks.map((row) => {
      const byView = {} as Record<FeatureViewName, ViewResult>;
      views.forEach((view, v) => (byView[view.name] = decodeView(view, items.get(row[v]), now)));
      return byView as ViewResults;
    });
    return { results, servedBy: STORE };
  }

  /**
   * Newer-value protection: BatchGetItem the stored items, then BatchWriteItem only records newer
   * than what is stored (merged into the item, so other views of the same entity survive).
   * Why not conditional writes: BatchWriteItem takes no conditions, and one conditional
   * UpdateItem per entity is 25× the requests (and 25× the latency-bound calls of a backfill).
   * The cost is a race the Redis Lua script does not have: when two writers hold rows of the same
   * entity at the same moment (e.g. parallel materialization units), the older row can land
   * between the other's read and write, and stays until that entity is written again. Writers
   * that partition by entity, or run one at a time, never see it.
   */
  async write(writes: FeatureWrites, options: { signal?: AbortSignal } = {}): Promise<WriteResult> {
    const byPk = new Map<string, FeatureRecord[]>();
    for (const record of featureRecords(writes)) {
      const pk = this.layout.dynamoPartitionKey(record.view.entity.name, record.entityKey);
      const list = byPk.get(pk);
      if (list) list.push(record);
      else byPk.set(pk, [record]);
    }
    const pks = [...byPk.keys()];
    const stored = new Map<string, Item>();
    await this.#inParallel(chunk(pks, MAX_GET_KEYS), (keys) =>
      this.#batchGet(keys, stored, options.signal, true),
    );

    let written = 0;
    let skippedNotNewer = 0;
    const puts: Item[] = [];
    for (const [pk, list] of byPk) {
      const item: Item = { ...(stored.get(pk) ?? { [DYNAMODB_PARTITION_KEY]: { S: pk } }) };
      let changed = false;
      for (const record of list) {
        const names = viewFieldNames(record.view);
        const storedEvent = Number(item[names.eventTs]?.N ?? NaN);
        const storedCreated = Number(item[names.createdTs]?.N ?? -Infinity);
        const newer =
          Number.isNaN(storedEvent) ||
          record.eventTimestamp > storedEvent ||
          (record.eventTimestamp === storedEvent && record.createdTimestamp > storedCreated);
        if (!newer) {
          skippedNotNewer++;
          continue;
        }
        // Several records of one entity in a call: a record replaced later in this loop was written
        // in the sense of the contract (it was newer than the store), so it still counts as written.
        written++;
        changed = true;
        writeView(item, record);
      }
      if (changed) puts.push(item);
    }
    await this.#inParallel(chunk(puts, MAX_WRITE_ITEMS), (batch) =>
      this.#batchWrite(batch, options.signal),
    );
    return { written, skippedNotNewer };
  }

  async #batchGet(
    keys: string[],
    into: Map<string, Item>,
    signal: AbortSignal | undefined,
    forWrite = false,
  ) {
    let request: KeysAndAttributes | undefined = {
      Keys: keys.map((pk) => ({ [DYNAMODB_PARTITION_KEY]: { S: pk } })),
      ConsistentRead: forWrite,
    };
    for (let attempt = 0; request; attempt++) {
      if (attempt > 0) await this.#backoff(attempt, signal);
      const input: BatchGetItemInput = { RequestItems: { [this.tableName]: request } };
      const response: BatchGetItemOutput = await this.#call('BatchGetItem', signal, (s) =>
        this.api.batchGetItem(input, s),
      );
      for (const item of response.Responses?.[this.tableName] ?? []) {
        const pk = item[DYNAMODB_PARTITION_KEY]?.S;
        if (pk !== undefined) into.set(pk, item);
      }
      request = response.UnprocessedKeys?.[this.tableName];
      if (request && !request.Keys?.length) request = undefined;
      if (request && !signal && attempt + 1 >= this.#maxWriteAttempts) {
        throw new StoreUnavailableError(
          STORE,
          `BatchGetItem left keys unprocessed after ${attempt + 1} attempts`,
        );
      }
    }
  }

  async #batchWrite(items: Item[], signal: AbortSignal | undefined) {
    let requests: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt >= this.#maxWriteAttempts) {
        throw new StoreUnavailableError(
          STORE,
          `BatchWriteItem left ${requests.length} items unprocessed after ${attempt} attempts (throttled?)`,
        );
      }
      if (attempt > 0) await this.#backoff(attempt, signal);
      const input: BatchWriteItemInput = { RequestItems: { [this.tableName]: requests } };
      const response: BatchWriteItemOutput = await this.#call('BatchWriteItem', signal, (s) =>
        this.api.batchWriteItem(input, s),
      );
      requests = response.UnprocessedItems?.[this.tableName] ?? [];
    }
  }

  async #call<T>(
    operation: string,
    signal: AbortSignal | undefined,
    send: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    try {
      return await raceWithSignal(STORE, send(signal), signal);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      const e = error as Error;
      const [code, message] =
        error instanceof DynamoDbApiError ? [error.code, error.awsMessage] : [e.name, e.message];
      throw new StoreUnavailableError(
        STORE,
        `${operation} on table "${this.tableName}" failed: ${code}: ${message}`,
        { cause: error },
      );
    }
  }

  /** Exponential backoff with full jitter, cut short by the deadline. */
  #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const delay = Math.random() * this.#baseDelayMs * 2 ** (attempt - 1);
    const sleep = new Promise<void>((resolve) => setTimeout(resolve, delay));
    return raceWithSignal(STORE, sleep, signal);
  }

  async #inParallel<T>(work: T[], run: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < work.length) await run(work[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, work.length) }, worker));
  }
}

function chunk<T>(values: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}

function decodeView(view: FeatureViewDefinition, item: Item | undefined, now: number): ViewResult {
  const names = viewFieldNames(view);
  const eventTimestamp = item
    ? decodeTimestamp(STORE, names.eventTs, item[names.eventTs]?.N)
    : null;
  if (!item || eventTimestamp === null)
    return { status: 'not_found', eventTimestamp: null, values: {} };
  const values: Record<string, string | number | null> = {};
  view.features.forEach((feature, i) => {
    const attribute = item[names.features[i]];
    let raw: string | undefined;
    if (attribute && !('NULL' in attribute && attribute.NULL)) {
      raw = feature.type === 'int64' ? attribute.N : attribute.S;
      if (raw === undefined) {
        throw new StoreUnavailableError(
          STORE,
          `attribute ${names.features[i]} has the wrong DynamoDB type`,
        );
      }
    }
    values[feature.name] = decodeFeatureValue(STORE, view, feature, raw);
  });
  return { status: viewStatus(view, eventTimestamp, now), eventTimestamp, values };
}

/** Replaces one view's attributes in an item with the record's (null values are left out). */
function writeView(item: Item, record: FeatureRecord) {
  const names = viewFieldNames(record.view);
  record.view.features.forEach((feature, i) => {
    const encoded = encodeFeatureValue(record.values[feature.name]);
    if (encoded === null) delete item[names.features[i]];
    else item[names.features[i]] = feature.type === 'int64' ? { N: encoded } : { S: encoded };
  });
  item[names.eventTs] = { N: String(record.eventTimestamp) };
  item[names.createdTs] = { N: String(record.createdTimestamp) };
}
