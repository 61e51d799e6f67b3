import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';

/**
 * The online-store boundary. Upstash, Redis over TCP, DynamoDB and the embedded store implement
 * the same interface; fallback is a composition of two stores (see fallback.ts).
 */

/** A feature value as stored: strings for string features, numbers for int64 features. */
export type FeatureValue = string | number | null;

/** Per-view status, as Feast's PRESENT / NOT_FOUND / OUTSIDE_MAX_AGE. */
export type ViewStatus = 'present' | 'not_found' | 'stale';

export interface ViewResult {
  readonly status: ViewStatus;
  /** Event timestamp of the stored row (epoch ms), null when not found. */
  readonly eventTimestamp: number | null;
  /** Feature name → value; empty when not found. Stale rows still carry their values. */
  readonly values: Readonly<Record<string, FeatureValue>>;
}

/** The entity keys of one application. */
export interface EntityKeys {
  readonly zipcode: number;
  readonly dob_ssn: string;
}

export type ViewResults = Readonly<Record<FeatureViewName, ViewResult>>;

export interface ReadOptions {
  /** Aborts the read when the deadline passes; stores must honour it promptly. */
  readonly signal?: AbortSignal;
  /** Read time (epoch ms) for the TTL check; defaults to Date.now(). */
  readonly now?: number;
}

/** One feature row to store: the latest values of one view for one entity key. */
export interface FeatureRecord {
  readonly view: FeatureViewDefinition;
  /** The entity key value: zipcode number or dob_ssn string. */
  readonly entityKey: number | string;
  /** epoch ms */
  readonly eventTimestamp: number;
  /** epoch ms; breaks ties between rows with equal event timestamps */
  readonly createdTimestamp: number;
  readonly values: Readonly<Record<string, FeatureValue>>;
}

/**
 * Rows of ONE feature view to write, as columns plus the positions of the rows to take: the
 * materializer's form, which hands the decoded Parquet columns to the stores without building an
 * object per row (feature-rows.ts says what that saves). Helpers: feature-rows.ts.
 */
export interface FeatureRows {
  readonly view: FeatureViewDefinition;
  /** Positions in the columns of the rows to write, in order; each has an entity key. */
  readonly rows: Int32Array;
  readonly entityKeys: ArrayLike<number | string | null>;
  readonly eventTimestamps: ArrayLike<number>;
  /** NaN at a row, or no column at all: the row's event timestamp. */
  readonly createdTimestamps?: ArrayLike<number>;
  /**
   * One column per feature of `view.features`, in that order. Absent values are null, and NaN
   * in a Float64Array (how parquet-table.ts decodes a numeric null).
   */
  readonly values: readonly FeatureColumn[];
}

export type FeatureColumn = Float64Array | readonly (FeatureValue | undefined)[];

/** What write() takes: records of any views, or the rows of one view as columns. */
export type FeatureWrites = readonly FeatureRecord[] | FeatureRows;

export interface WriteResult {
  /** Records written (new or newer than the stored row). */
  readonly written: number;
  /** Records skipped because the store already held a row at least as new. */
  readonly skippedNotNewer: number;
}

export type FallbackReason = 'miss' | 'error' | 'timeout' | 'circuit_open';

export interface ReadResponse {
  /** One entry per application, in request order. */
  readonly results: ViewResults[];
  /** The store that answered, e.g. "redis", or "dynamodb" after a fallback. */
  readonly servedBy: string;
  /** Why the primary store did not answer alone (absent when it did). */
  readonly fallbackReason?: FallbackReason;
  /**
   * Background work started by the read (a cache refill after a fallback). Hand it to the
   * runtime (`executionCtx.waitUntil`) or await it; it never rejects.
   */
  readonly pending?: Promise<void>;
}

export interface OnlineStore {
  /** Short name reported in responses and logs: "redis", "upstash", "dynamodb", "embedded". */
  readonly name: string;
  /**
   * Reads every view of every application in ONE round trip to the store, in request order.
   * Missing or stale rows are statuses, not exceptions; a failing store throws
   * `StoreUnavailableError`.
   */
  read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options?: ReadOptions,
  ): Promise<ReadResponse>;
  /**
   * Writes records, never replacing a stored row whose event timestamp (then created timestamp)
   * is newer than the record's. Idempotent.
   */
  write(records: FeatureWrites, options?: { signal?: AbortSignal }): Promise<WriteResult>;
  /**
   * True when write() checks and sets each row in one atomic step (the Redis stores' script), so
   * concurrent write() calls can run in any interleaving and the newest row still wins. Absent or
   * false (DynamoDB: a read, then a write) makes the materializer issue one write() at a time.
   */
  readonly atomicWrites?: boolean;
  /**
   * True when read() bounds its own time (FallbackStore: both reads raced against one budget).
   * The request's deadline then does not race it a second time, which would cut short the
   * fallback read that a stalled server started late (see FallbackStore).
   */
  readonly boundsReadTime?: boolean;
  close?(): Promise<void>;
}

/** A store failed, timed out or answered garbage. Maps to 503 + Retry-After when nothing else can answer. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(
    readonly store: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${store}: ${message}`, options);
  }
}

/** The TTL rule shared by every store. */
export function viewStatus(
  view: FeatureViewDefinition,
  eventTimestamp: number | null,
  now: number,
): ViewStatus {
  if (eventTimestamp === null) return 'not_found';
  return now - eventTimestamp > view.ttlSeconds * 1000 ? 'stale' : 'present';
}
