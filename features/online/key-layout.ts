/**
 * The online key/item layout, shared by every store, the readers and the materializer (which
 * writes through the stores' `write()`).
 *
 * Redis (TCP and Upstash) — one hash per entity:
 *   key    `<prefix><entity>:<key>`           e.g. `loan:zipcode:76104`, `loan:dob_ssn:19630621_4278`
 *   fields `<view>:<feature>`                 e.g. `zipcode_features:city` = "FORT WORTH"
 *          `<view>:_event_ts`                 event timestamp, epoch ms (decimal string)
 *          `<view>:_created_ts`               created timestamp, epoch ms; breaks event-ts ties
 *   int64 features are decimal strings; a null value is an absent field. An optional key TTL
 *   (PEXPIRE) may be set by the writer. The default prefix is `loan:`.
 *
 * DynamoDB — one item per entity:
 *   `pk` (S, partition key) = `<entity>#<key>`  e.g. `dob_ssn#19630621_4278`
 *   `<view>:<feature>` S for string features, N for int64 features (absent when null)
 *   `<view>:_event_ts`, `<view>:_created_ts` (N, epoch ms)
 *
 * Every entity key goes through `KeyLayout.entityId`, the one place where a keyed hash of the key
 * (HMAC-SHA256, so a dump of the store does not reveal dob_ssn) can be plugged in later: pass
 * `encodeEntityKey` and every reader and writer agrees on it.
 */
import type { EntityName, FeatureViewDefinition } from '../definitions.js';

export const DEFAULT_REDIS_KEY_PREFIX = 'loan:';
export const EVENT_TS = '_event_ts';
export const CREATED_TS = '_created_ts';
export const DYNAMODB_PARTITION_KEY = 'pk';

/** Turns a canonical entity key into the stored identifier (identity unless hashing is on). */
export type EntityKeyEncoder = (entity: EntityName, canonicalKey: string) => string;

export interface KeyLayoutOptions {
  /** Redis key prefix; default `loan:`. */
  readonly redisKeyPrefix?: string;
  /** Hook for keyed hashing of entity keys; identity by default. */
  readonly encodeEntityKey?: EntityKeyEncoder;
}

/** Thrown for an entity key that cannot be stored; never carries the key value itself (PII). */
export class InvalidEntityKeyError extends Error {
  override readonly name = 'InvalidEntityKeyError';
}

/** Per-view field names, computed once per view definition (they sit on every read). */
export interface ViewFieldNames {
  /** `<view>:<feature>` in the order of `view.features`. */
  readonly features: readonly string[];
  readonly eventTs: string;
  readonly createdTs: string;
  /** What a read fetches: every feature field, then the event timestamp. */
  readonly readFields: readonly string[];
}

const fieldNameCache = new WeakMap<FeatureViewDefinition, ViewFieldNames>();

export function viewFieldNames(view: FeatureViewDefinition): ViewFieldNames {
  let names = fieldNameCache.get(view);
  if (!names) {
    const features = view.features.map((f) => `${view.name}:${f.name}`);
    const eventTs = `${view.name}:${EVENT_TS}`;
    names = {
      features,
      eventTs,
      createdTs: `${view.name}:${CREATED_TS}`,
      readFields: [...features, eventTs],
    };
    fieldNameCache.set(view, names);
  }
  return names;
}

export class KeyLayout {
  readonly redisKeyPrefix: string;
  readonly #encode: EntityKeyEncoder | undefined;

  constructor(options: KeyLayoutOptions = {}) {
    this.redisKeyPrefix = options.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.#encode = options.encodeEntityKey;
  }

  /** The single entry point from an entity key value to its stored identifier. */
  entityId(entity: EntityName, key: number | string): string {
    const canonical = canonicalEntityKey(entity, key);
    return this.#encode ? this.#encode(entity, canonical) : canonical;
  }

  redisKey(entity: EntityName, key: number | string): string {
    return `${this.redisKeyPrefix}${entity}:${this.entityId(entity, key)}`;
  }

  dynamoPartitionKey(entity: EntityName, key: number | string): string {
    return `${entity}#${this.entityId(entity, key)}`;
  }
}

function canonicalEntityKey(entity: EntityName, key: number | string): string {
  if (entity === 'zipcode') {
    const n = typeof key === 'number' ? key : Number(key);
    if (!Number.isSafeInteger(n)) {
      throw new InvalidEntityKeyError(`entity key of "zipcode" must be an integer`);
    }
    return String(n);
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidEntityKeyError(`entity key of "${entity}" must be a non-empty string`);
  }
  return key;
}
