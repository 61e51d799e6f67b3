/**
 * Fallback as a composition of two stores (typically Redis → DynamoDB):
 * - the primary answers under its deadline; on an error or the deadline the secondary answers
 *   (fallbackReason 'error' / 'timeout'); while the primary's circuit is open it is skipped
 *   ('circuit_open'), and the half-open circuit's probe races the secondary instead of making the
 *   read wait for it;
 * - a primary MISS (any requested view not_found) asks the secondary too and merges: primary hits,
 *   secondary answers for the missed views ('miss'). Secondary hits refill the primary in the
 *   background, returned as `pending` for the runtime's waitUntil.
 *
 * Default deadlines, sized for a 10 ms feature budget: primary 4 ms (a local/VPC Redis answers in
 * well under 1 ms, so 4 ms only trips on a real fault), secondary 5 ms (DynamoDB in-region
 * p99 is a few ms), leaving ~1 ms for the fallback decision itself.
 *
 * The budget says when to act, not when to give up. The secondary is the last resort, so a
 * secondary still silent at the end of the budget is not failed: it is asked once more (a hedged
 * request: an eventually consistent BatchGetItem may reach another replica) and the first
 * complete answer of the reads in flight wins, until the read timeout (default 100 ms), after
 * which the read fails with StoreUnavailableError (the API's 503). Why: a deadline at the p99
 * target fails about 1 % of the reads of a healthy DynamoDB by construction, and a 503 costs the
 * applicant a Retry-After of at least a second, where the late answer costs a few ms. A store that
 * is down answers with an error at once, and that still fails the read at once.
 *
 * The two deadlines are one budget: the secondary gets what the primary left of it, and never
 * less than its own deadline. While the circuit is open, or when Redis refuses at once, DynamoDB
 * may take the whole 9 ms rather than fail a read at 5 ms that it would have answered at 6.
 *
 * The budget counts from the read's start, but a deadline timer that fires late (the server
 * itself stalled: a GC pause, a busy CPU) only declares a timeout after one I/O pass, and the
 * secondary then still gets its own deadline from the moment it was asked: time the server lost
 * is not charged to the secondary. A request deadline around this store would undo that, so the
 * app does not set one (`boundsReadTime`).
 *
 * A primary past its deadline is not abandoned: its read is already in flight, so it races the
 * secondary's (a hedged request, as in "The Tail at Scale"), and the first complete answer wins.
 * A Redis stalled for 5 ms then still answers a read that a DynamoDB slower than the rest of the
 * budget would have failed. Such an answer says servedBy: the primary, fallbackReason: 'timeout'.
 */
import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';
import { CircuitBreaker, type CircuitBreakerConfig, type CircuitState } from './circuit-breaker.js';
import { InvalidEntityKeyError } from './key-layout.js';
import { DeadlineExceeded, raceDeadline, silentLogger, type StoreLogger } from './store-support.js';
import {
  StoreUnavailableError,
  type EntityKeys,
  type FallbackReason,
  type FeatureRecord,
  type FeatureWrites,
  type OnlineStore,
  type ReadOptions,
  type ReadResponse,
  type ViewResult,
  type ViewResults,
  type WriteResult,
} from './types.js';

export interface FallbackStoreConfig {
  /** Deadline of a primary read; default 4 ms. */
  readonly primaryDeadlineMs?: number;
  /** Deadline of a secondary read; default 5 ms (more when the primary left budget unused). */
  readonly secondaryDeadlineMs?: number;
  /**
   * Give up on a read after this long (from its start); default 100 ms. When it is longer than
   * the budget (primary + secondary deadline), a secondary still silent at the budget's end is
   * hedged, not failed; otherwise the read fails at the budget's end.
   */
  readonly readTimeoutMs?: number;
  /** Deadline of a background refill of the primary; default 1,000 ms. */
  readonly refillDeadlineMs?: number;
  /** Circuit breaker on the primary; defaults: open after 5 consecutive failures, probe after 1 s. */
  readonly circuitBreaker?: CircuitBreakerConfig;
  readonly logger?: StoreLogger;
}

export const DEFAULT_PRIMARY_DEADLINE_MS = 4;
export const DEFAULT_SECONDARY_DEADLINE_MS = 5;
export const DEFAULT_REFILL_DEADLINE_MS = 1_000;
export const DEFAULT_READ_TIMEOUT_MS = 100;

export class FallbackStore implements OnlineStore {
  readonly name: string;
  /** Every read is bounded by the primary + secondary budget below. */
  readonly boundsReadTime = true;
  readonly #primaryDeadlineMs: number;
  readonly #secondaryDeadlineMs: number;
  readonly #refillDeadlineMs: number;
  readonly #readTimeoutMs: number;
  readonly #breaker: CircuitBreaker;
  readonly #logger: StoreLogger;

  constructor(
    readonly primary: OnlineStore,
    readonly secondary: OnlineStore,
    config: FallbackStoreConfig = {},
  ) {
    this.name = `${primary.name}+${secondary.name}`;
    this.#primaryDeadlineMs = config.primaryDeadlineMs ?? DEFAULT_PRIMARY_DEADLINE_MS;
    this.#secondaryDeadlineMs = config.secondaryDeadlineMs ?? DEFAULT_SECONDARY_DEADLINE_MS;
    this.#refillDeadlineMs = config.refillDeadlineMs ?? DEFAULT_REFILL_DEADLINE_MS;
    this.#readTimeoutMs = config.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.#logger = config.logger ?? silentLogger;
    this.#breaker = new CircuitBreaker(primary.name, config.circuitBreaker ?? {}, this.#logger);
  }

  /** State of the primary's circuit breaker (for /health and metrics). */
  get circuitState(): CircuitState {
    return this.#breaker.state;
  }

  async read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options: ReadOptions = {},
  ): Promise<ReadResponse> {
    const now = options.now ?? Date.now();
    let reason: FallbackReason;
    let primaryResults: ViewResults[] | undefined;
    let primaryError: unknown;
    // The primary's read when it missed its deadline: still in flight, it races the secondary.
    let latePrimary: Promise<ReadResponse> | undefined;
    // This read carries the half-open circuit's probe of the primary.
    let probe = false;
    const budgetStartedAt = performance.now();
    if (this.#breaker.allowRequest()) {
      const reading = this.primary.read(applications, views, { signal: options.signal, now });
      const verdict = this.#judgePrimary(reading, Date.now(), options.signal);
      if (this.#breaker.state === 'half_open') {
        // The probe of a primary that has been failing: the applicant does not wait for it. Its
        // read races the secondary's below (a complete answer that comes first still serves),
        // and its verdict closes or reopens the circuit in the background.
        probe = true;
        latePrimary = reading;
        reason = 'circuit_open';
      } else {
        const outcome = await verdict;
        if (outcome.ok) {
          if (!hasMiss(outcome.response.results, views)) return outcome.response;
          primaryResults = outcome.response.results;
          reason = 'miss';
        } else {
          // A key no store can hold is the caller's mistake, not a store fault.
          if (outcome.error instanceof InvalidEntityKeyError) throw outcome.error;
          if (options.signal?.aborted) {
            throw asUnavailable(this.name, 'read aborted by the caller', outcome.error);
          }
          primaryError = outcome.error;
          reason = outcome.reason;
          if (reason === 'timeout') latePrimary = reading;
        }
      }
    } else {
      reason = 'circuit_open';
    }

    let secondary: ReadResponse;
    const budgetMs = this.#primaryDeadlineMs + this.#secondaryDeadlineMs;
    const leftOfBudget = budgetMs - (performance.now() - budgetStartedAt);
    let race: ReturnType<typeof raceReads> | undefined;
    try {
      const readSecondary = () =>
        this.secondary.read(applications, views, { signal: options.signal, now });
      const secondaryRead = readSecondary();
      race = raceReads(latePrimary, secondaryRead, views);
      const deadlineMs = Math.max(this.#secondaryDeadlineMs, leftOfBudget);
      let first: Awaited<typeof race.first>;
      try {
        first = await raceDeadline(race.first, deadlineMs);
      } catch (error) {
        // Only a secondary that is still silent is waited for: one that failed is down, and a
        // down store means a 503 at once.
        const silent = error instanceof DeadlineExceeded && race.secondaryError() === undefined;
        if (!silent || this.#readTimeoutMs <= budgetMs) throw error;
        // Past the budget: ask the secondary again and keep every read in flight racing until
        // the read timeout (time this server lost stalled is not charged: at least one more
        // secondary deadline).
        const timeoutMs = Math.max(
          this.#secondaryDeadlineMs,
          this.#readTimeoutMs - (performance.now() - budgetStartedAt),
        );
        this.#logger.warn({
          event: 'secondary_hedged',
          store: this.secondary.name,
          reason,
          afterMs: Math.round(performance.now() - budgetStartedAt),
          timeoutMs: Math.round(timeoutMs),
        });
        first = await raceDeadline(race.withRetry(readSecondary()), timeoutMs);
      }
      if (first.from === 'primary') {
        // A probe that answered first is the primary serving as usual.
        if (probe) return first.response;
        return {
          results: first.response.results,
          servedBy: this.primary.name,
          fallbackReason: reason,
        };
      }
      secondary = first.response;
    } catch (error) {
      // The primary answered late but missed some views: as good as a primary miss.
      primaryResults ??= race?.lateMiss()?.results;
      if (primaryResults) {
        // The primary did answer; its not_found statuses are the best answer there is.
        this.#logger.warn({
          event: 'secondary_read_failed',
          store: this.secondary.name,
          reason,
          error: describe(error),
        });
        return { results: primaryResults, servedBy: this.primary.name, fallbackReason: reason };
      }
      const why = primaryError === undefined ? 'circuit open' : describe(primaryError);
      const secondaryError = race?.secondaryError() ?? error;
      if (secondaryError instanceof InvalidEntityKeyError) throw secondaryError;
      throw asUnavailable(
        this.name,
        `both stores failed (${this.primary.name}: ${why}; ${this.secondary.name}: ${describe(secondaryError)})`,
        secondaryError,
      );
    }

    if (!primaryResults) {
      return { results: secondary.results, servedBy: secondary.servedBy, fallbackReason: reason };
    }
    const merged = mergeMisses(primaryResults, secondary.results, views);
    const refill = refillRecords(applications, views, primaryResults, secondary.results);
    const servedBy = merged.usedPrimary
      ? `${this.primary.name}+${secondary.servedBy}`
      : secondary.servedBy;
    return {
      results: merged.results,
      servedBy,
      fallbackReason: 'miss',
      ...(refill.length > 0 ? { pending: this.#refill(refill) } : {}),
    };
  }

  /** Writes to both stores (the primary and its backing store); both must succeed. */
  async write(
    records: FeatureWrites,
    options: { signal?: AbortSignal } = {},
  ): Promise<WriteResult> {
    const [primary] = await Promise.all([
      this.primary.write(records, options),
      this.secondary.write(records, options),
    ]);
    return primary;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.primary.close?.(), this.secondary.close?.()]);
  }

  /**
   * Whether the primary answered within its deadline, recorded on the circuit breaker (and a
   * failure logged, without entity keys). Never rejects.
   */
  async #judgePrimary(
    reading: Promise<ReadResponse>,
    startedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<
    | { ok: true; response: ReadResponse }
    | { ok: false; error: unknown; reason: 'timeout' | 'error' }
  > {
    try {
      const response = await raceDeadline(reading, this.#primaryDeadlineMs);
      this.#breaker.recordSuccess();
      return { ok: true, response };
    } catch (error) {
      const reason = error instanceof DeadlineExceeded ? 'timeout' : 'error';
      if (error instanceof InvalidEntityKeyError || signal?.aborted) {
        this.#breaker.recordInconclusive();
        return { ok: false, error, reason };
      }
      this.#breaker.recordFailure(Date.now(), startedAt);
      this.#logger.warn({
        event: 'primary_read_failed',
        store: this.primary.name,
        reason,
        error: describe(error),
      });
      return { ok: false, error, reason };
    }
  }

  /** Never rejects; logs without entity keys (dob_ssn is PII). */
  async #refill(records: FeatureRecord[]): Promise<void> {
    try {
      const result = await raceDeadline(this.primary.write(records), this.#refillDeadlineMs);
      this.#logger.info({ event: 'refill', store: this.primary.name, ...result });
    } catch (error) {
      this.#logger.error({
        event: 'refill_failed',
        store: this.primary.name,
        records: records.length,
        error: describe(error),
      });
    }
  }
}

/**
 * The first complete answer of the reads in flight: the secondary read, the primary's when it
 * missed its deadline, and later a second secondary read (`withRetry`). A late primary that
 * fails, or answers with a view not_found, drops out of the race (the secondary may still have
 * that view); the race rejects once every read has dropped out, with the first secondary error.
 */
function raceReads(
  latePrimary: Promise<ReadResponse> | undefined,
  secondaryRead: Promise<ReadResponse>,
  views: readonly FeatureViewDefinition[],
) {
  let miss: ReadResponse | undefined;
  let secondaryFailure: { error: unknown } | undefined;
  const contenders: Promise<{ from: 'primary' | 'secondary'; response: ReadResponse }>[] = [];
  const addSecondary = (read: Promise<ReadResponse>) => {
    contenders.push(
      read.then(
        (response) => ({ from: 'secondary' as const, response }),
        (error: unknown) => {
          secondaryFailure ??= { error };
          throw error;
        },
      ),
    );
  };
  // Promise.any observes every contender, so a loser's rejection is never unhandled.
  const race = () =>
    Promise.any(contenders).catch(() => {
      throw secondaryFailure?.error ?? new Error('no store answered');
    });
  if (latePrimary) {
    contenders.push(
      latePrimary.then((response) => {
        if (hasMiss(response.results, views)) {
          miss = response;
          throw new Error('late primary answer missed a view');
        }
        return { from: 'primary' as const, response };
      }),
    );
  }
  addSecondary(secondaryRead);
  return {
    first: race(),
    /** The same race with one more secondary read in it. */
    withRetry(again: Promise<ReadResponse>) {
      addSecondary(again);
      return race();
    },
    /** The late primary's answer, if it came and missed a view. */
    lateMiss: (): ReadResponse | undefined => miss,
    /** The first secondary failure, if one failed (rather than the race's deadline). */
    secondaryError: (): unknown => secondaryFailure?.error,
  };
}

function hasMiss(
  results: readonly ViewResults[],
  views: readonly FeatureViewDefinition[],
): boolean {
  for (const byView of results) {
    for (const view of views) if (byView[view.name].status === 'not_found') return true;
  }
  return false;
}

function mergeMisses(
  primary: readonly ViewResults[],
  secondary: readonly ViewResults[],
  views: readonly FeatureViewDefinition[],
): { results: ViewResults[]; usedPrimary: boolean } {
  let usedPrimary = false;
  const results = primary.map((byView, i) => {
    const merged = {} as Record<FeatureViewName, ViewResult>;
    for (const view of views) {
      const fromPrimary = byView[view.name].status !== 'not_found';
      usedPrimary ||= fromPrimary;
      merged[view.name] = fromPrimary ? byView[view.name] : secondary[i][view.name];
    }
    return merged as ViewResults;
  });
  return { results, usedPrimary };
}

/**
 * Secondary rows for the views the primary missed. The read does not return the created
 * timestamp; 0 is safe: it loses every tie, so a refill never replaces a row the materializer
 * wrote with the same event timestamp, and the materializer's next write of it wins.
 */
function refillRecords(
  applications: readonly EntityKeys[],
  views: readonly FeatureViewDefinition[],
  primary: readonly ViewResults[],
  secondary: readonly ViewResults[],
): FeatureRecord[] {
  const records: FeatureRecord[] = [];
  const seen = new Set<string>();
  applications.forEach((application, i) => {
    for (const view of views) {
      const found = secondary[i][view.name];
      if (primary[i][view.name].status !== 'not_found' || found.eventTimestamp === null) continue;
      const entityKey = application[view.entity.name];
      const id = `${view.name}\u0000${entityKey}`;
      if (seen.has(id)) continue;
      seen.add(id);
      records.push({
        view,
        entityKey,
        eventTimestamp: found.eventTimestamp,
        createdTimestamp: 0,
        values: found.values,
      });
    }
  });
  return records;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asUnavailable(store: string, message: string, cause: unknown): StoreUnavailableError {
  return new StoreUnavailableError(store, message, { cause });
}
