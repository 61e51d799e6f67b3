import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';
import type { StoreLogger } from './store-support.js';

function breaker() {
  const transitions: string[] = [];
  const record = (o: Record<string, unknown>) => transitions.push(`${o.from}->${o.to}`);
  const logger: StoreLogger = { info: record, warn: record, error: record };
  return {
    transitions,
    breaker: new CircuitBreaker('redis', { failureThreshold: 3, coolDownMs: 1_000 }, logger),
  };
}

describe('CircuitBreaker', () => {
  it('opens after K consecutive failures; a success in between resets the count', () => {
    const { breaker: b, transitions } = breaker();
    b.recordFailure(0);
    b.recordFailure(0);
    b.recordSuccess();
    b.recordFailure(0);
    b.recordFailure(0);
    expect(b.state).toBe('closed');
    b.recordFailure(10);
    expect(b.state).toBe('open');
    expect(b.allowRequest(500)).toBe(false);
    expect(transitions).toEqual(['closed->open']);
  });

  it('lets ONE probe through after the cool-down; its outcome closes or re-opens', () => {
    const { breaker: b, transitions } = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure(0);
    expect(b.allowRequest(1_000)).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.allowRequest(1_001)).toBe(false); // a probe is in flight
    b.recordFailure(1_002);
    expect(b.state).toBe('open');
    expect(b.allowRequest(1_500)).toBe(false);
    expect(b.allowRequest(2_002)).toBe(true);
    b.recordInconclusive(); // e.g. the caller gave up: the next request may probe
    expect(b.allowRequest(2_003)).toBe(true);
    b.recordSuccess();
    expect(b.state).toBe('closed');
    expect(transitions).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->open',
      'open->half_open',
      'half_open->closed',
    ]);
  });

  it('counts a burst of concurrent failures (one stall) as one, a continuing outage as many', () => {
    const { breaker: b } = breaker();
    // Eight requests in flight since t=0 all time out at t=4: one episode.
    for (let i = 0; i < 8; i++) b.recordFailure(4, 0);
    expect(b.state).toBe('closed');
    // Requests started after each failure keep failing: a real outage.
    b.recordFailure(9, 5);
    expect(b.state).toBe('closed');
    b.recordFailure(14, 10);
    expect(b.state).toBe('open');
  });

  it('opens on a hung store under steady concurrent load, where failures overlap without end', () => {
    const { breaker: b } = breaker();
    // Eight workers in a closed loop, staggered by 0.5 ms; every read times out 4 ms after it
    // started. Some other request always fails while each one is in flight, so "started before
    // the last failure" alone would call all of it one episode and never open.
    let now = 0;
    const startedAt = Array.from({ length: 8 }, (_, worker) => worker * 0.5);
    for (let round = 0; round < 20 && b.state === 'closed'; round++) {
      for (let worker = 0; worker < 8 && b.state === 'closed'; worker++) {
        now = startedAt[worker] + 4;
        b.recordFailure(now, startedAt[worker]);
        startedAt[worker] = now + 0.1;
      }
    }
    expect(b.state).toBe('open');
    expect(now).toBeLessThanOrEqual(5 * 4 + 8);
  });
});
