/**
 * Small pieces every store shares: the logger boundary, deadline racing and value decoding.
 */
import type { FeatureDefinition, FeatureViewDefinition } from '../definitions.js';
import { StoreUnavailableError, type FeatureValue } from './types.js';

/** The logging boundary of the stores: structured objects, never entity key values (PII). */
export interface StoreLogger {
  info(obj: Record<string, unknown>): void;
  warn(obj: Record<string, unknown>): void;
  error(obj: Record<string, unknown>): void;
}

export const silentLogger: StoreLogger = { info() {}, warn() {}, error() {} };

/**
 * Settles with `promise`, or rejects with StoreUnavailableError as soon as `signal` aborts. The
 * client libraries do not all stop promptly on abort (node-redis keeps a sent command queued),
 * so the race is what guarantees a hung store cannot hang a read; the loser is silenced.
 */
export function raceWithSignal<T>(
  store: string,
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  return abandonOnAbort(promise, signal, () => abortError(store, signal!));
}

/**
 * Settles with `promise`, or rejects with `reason()` as soon as `signal` aborts. The work is
 * abandoned, not cancelled: it finishes in the background (a keep-alive socket stays in its
 * pool), and its outcome is silenced.
 */
export function abandonOnAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  reason: () => Error,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(reason());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(reason());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** True when the error is the abort of a deadline, as raised by raceWithSignal. */
export function isAbortError(error: unknown): boolean {
  return error instanceof StoreUnavailableError && error.cause instanceof AbortedError;
}

class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

function abortError(store: string, signal: AbortSignal): StoreUnavailableError {
  const reason = signal.reason instanceof Error ? signal.reason.name : 'aborted';
  const message = reason === 'TimeoutError' ? 'deadline exceeded' : 'read aborted';
  return new StoreUnavailableError(store, message, { cause: new AbortedError(reason) });
}

/** Decodes one stored value by its feature type; garbage is a store fault, never a silent value. */
export function decodeFeatureValue(
  store: string,
  view: FeatureViewDefinition,
  feature: FeatureDefinition,
  raw: string | null | undefined,
): FeatureValue {
  if (raw === null || raw === undefined) return null;
  if (feature.type === 'string') return raw;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) {
    throw new StoreUnavailableError(
      store,
      `stored value of ${view.name}:${feature.name} is not an int64 (${raw.length} chars)`,
    );
  }
  return n;
}

/** Decodes a stored epoch-ms timestamp; null when absent. */
export function decodeTimestamp(
  store: string,
  field: string,
  raw: string | null | undefined,
): number | null {
  if (raw === null || raw === undefined) return null;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) {
    throw new StoreUnavailableError(store, `stored ${field} is not an epoch-ms timestamp`);
  }
  return n;
}

/** Encodes a value for a string-typed store (Redis fields, DynamoDB N/S); null means absent. */
export function encodeFeatureValue(value: FeatureValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? String(value) : value;
}

/** A store read or write that missed its deadline (the work itself is abandoned, not aborted). */
export class DeadlineExceeded extends Error {
  override readonly name = 'TimeoutError';
  /**
   * @param ms the deadline
   * @param lateMs how late this process's timer ran (its own stall: GC, a busy CPU), so a log
   *   line tells a slow store from a stalled server
   */
  constructor(
    ms: number,
    readonly lateMs = 0,
  ) {
    super(
      `deadline of ${Number(ms.toFixed(1))} ms exceeded (timer ran ${lateMs.toFixed(1)} ms late)`,
    );
  }
}

/**
 * The work, or DeadlineExceeded after `ms`. A timer raced against the promise rather than an
 * AbortSignal handed down: on Node 20 every abort listener costs ~8 µs (measured), and the
 * stores would add one per read. Abandoned work finishes in the background; it cannot reject
 * unhandled, since Promise.race has subscribed to it.
 *
 * The deadline measures the store, not this process: when the timer fires, the expiry waits for
 * one pass of the event loop's I/O phase (setImmediate runs after it) before it wins. Node runs
 * due timers *before* polling sockets, so after a stall of our own (a GC pause, a CPU busy with
 * other requests) a reply that arrived in time would otherwise lose to a timer that fired late:
 * under load that turned answered reads into 503s and opened the circuit breaker on a healthy
 * Redis (the throughput benchmark and the soak counted hundreds).
 */
export function raceDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  const started = performance.now();
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const lateMs = Math.max(0, performance.now() - started - ms);
      immediate = setImmediate(() => reject(new DeadlineExceeded(ms, lateMs)));
    }, ms);
  });
  return Promise.race([work, expired]).finally(() => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  });
}
