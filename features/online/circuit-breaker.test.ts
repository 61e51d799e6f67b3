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
});
