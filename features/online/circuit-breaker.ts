/**
 * A consecutive-failure circuit breaker: after `failureThreshold` failures in a row the protected
 * store is skipped for `coolDownMs`; then ONE request probes it (half-open). A success closes the
 * circuit, a failure re-opens it for another cool-down.
 *
 * Failures of requests that were already in flight when the previous failure was recorded count
 * as the same episode: one stall times out every concurrent request at once, and that alone must
 * not open the circuit (under load it did, 23 times in one benchmark run). A store that is really
 * down keeps failing requests started after each counted failure, and opens it after K such
 * rounds. Hand-written because it is 60 lines and the libraries (opossum) wrap the call and own
 * the timeout, which the fallback already does.
 */
import type { StoreLogger } from './store-support.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerConfig {
  /** Consecutive failures (errors or deadlines) that open the circuit; default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit skips the store before a probe; default 1,000 ms. */
  readonly coolDownMs?: number;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #coolDownMs: number;
  #state: CircuitState = 'closed';
  #failures = 0;
  /** When the last counted failure was recorded; requests started before it share its episode. */
  #lastCountedFailureAt = -Infinity;
  #openedAt = 0;
  #probeInFlight = false;

  constructor(
    readonly storeName: string,
    config: CircuitBreakerConfig,
    private readonly logger: StoreLogger,
  ) {
    this.#threshold = Math.max(1, config.failureThreshold ?? 5);
    this.#coolDownMs = config.coolDownMs ?? 1_000;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Whether this request may use the store; in half-open, only the one probe may. */
  allowRequest(now = Date.now()): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') {
      if (now - this.#openedAt < this.#coolDownMs) return false;
      this.#transition('half_open');
    }
    if (this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.#failures = 0;
    this.#probeInFlight = false;
    if (this.#state !== 'closed') this.#transition('closed');
  }

  /** The request ended without saying anything about the store (caller abort, bad input). */
  recordInconclusive(): void {
    this.#probeInFlight = false;
  }

  /** `startedAt`: when the failed request began (omit to count every failure). */
  recordFailure(now = Date.now(), startedAt?: number): void {
    this.#probeInFlight = false;
    // Measured from the last failure that COUNTED: under steady concurrent load some request is
    // always failing while another is in flight, so "started before the last failure" would
    // chain one hung store into a single endless episode that never opens the circuit.
    const sameEpisode = startedAt !== undefined && startedAt < this.#lastCountedFailureAt;
    if (sameEpisode && this.#state === 'closed') return;
    this.#lastCountedFailureAt = now;
    this.#failures++;
    if (
      this.#state === 'half_open' ||
      (this.#state === 'closed' && this.#failures >= this.#threshold)
    ) {
      this.#openedAt = now;
      this.#transition('open');
    }
  }

  #transition(to: CircuitState) {
    const from = this.#state;
    this.#state = to;
    const log = {
      event: 'circuit_breaker',
      store: this.storeName,
      from,
      to,
      consecutiveFailures: this.#failures,
    };
    if (to === 'open') this.logger.warn(log);
    else this.logger.info(log);
  }
}
