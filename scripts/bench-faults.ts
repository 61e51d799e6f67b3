/**
 * Latency and errors while Redis fails under steady load (issue 6: during a Redis outage p99 ≤
 * 10 ms and 0 errors; a Redis that accepts connections but never answers costs ≤ 10 ms in total).
 *
 *   npm run bench -- --only faults [--quick]
 *
 * The bundled server runs with the production settings (Redis deadline 4 ms, DynamoDB 5 ms, read
 * timeout 100 ms) in front of redis-server and dynalite, each in its own process. A paced client
 * sends a steady load; the phases are: healthy, fault (redis-server SIGKILLed, or a proxy in front of it stops delivering
 * bytes), recovered (Redis back and re-seeded, the server NOT restarted).
 */
import { createLeanClientPool } from '../test/support/lean-client.js';
import {
  percentiles,
  runLoad,
  startTcpProxy,
  tally,
  type DecisionReply,
} from '../test/support/load.js';
import {
  BENCH_API_KEY,
  startServer,
  unavailableReasons,
  type ServerBundle,
} from './bench-server.js';
import { startStores } from './bench-stores.js';

export type FaultKind = 'redis-killed' | 'redis-hung';

export interface PhaseStats {
  readonly phase: 'healthy' | 'fault' | 'recovered';
  readonly requests: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly outcomes: Record<string, number>;
  /**
   * The requests that asked Redis and fell back on its fault (fallback reason timeout or error:
   * before the circuit opened, or a half-open probe's), ms: what the deadline costs one applicant.
   */
  readonly fellBack: { count: number; p50: number; max: number };
  /** The server's logged reasons for the 503s of the phase (digits folded to #), with examples. */
  readonly unavailable: Record<string, { count: number; examples: string[] }>;
}

export interface FaultResult {
  readonly fault: FaultKind;
  readonly ratePerSecond: number;
  readonly phases: PhaseStats[];
  /** From Redis being back to the first decision served by it again, ms. */
  readonly recoveryMs: number | null;
  /** Circuit-breaker transitions the server logged, in order ("closed→open", ...). */
  readonly circuit: string[];
}

export async function benchFault(
  bundle: ServerBundle,
  fault: FaultKind,
  options: { phaseSeconds: number; ratePerSecond: number; concurrency?: number },
): Promise<FaultResult> {
  const stores = await startStores('redis+dynamodb');
  const redis = stores.redis!;
  const proxy = fault === 'redis-hung' ? await startTcpProxy(redis.port) : undefined;
  const circuit: string[] = [];
  const reasons = unavailableReasons();
  const onLogLine = (line: string) => {
    reasons.onLogLine(line);
    if (!line.includes('circuit_breaker')) return;
    const entry = JSON.parse(line) as { from: string; to: string };
    circuit.push(`${entry.from}→${entry.to}`);
  };
  try {
    const env = { ...stores.env, ...(proxy ? { REDIS_URL: proxy.url } : {}), LOG_LEVEL: 'info' };
    const server = await startServer(bundle, { env, onLogLine });
    // Lean sockets, not node:http: on two cores the client's CPU is taken from the server.
    const client = createLeanClientPool(server.baseUrl, {
      apiKey: BENCH_API_KEY,
      connections: options.concurrency ?? 8,
      timeoutMs: 5_000,
    });
    try {
      const phaseMs = options.phaseSeconds * 1_000;
      const load = (onReply?: (reply: DecisionReply) => void) =>
        runLoad(client, stores.applications, {
          concurrency: options.concurrency ?? 8,
          ratePerSecond: options.ratePerSecond,
          requests: Math.ceil(options.ratePerSecond * options.phaseSeconds * 2),
          maxDurationMs: phaseMs,
          collect: 'without-bodies',
          onReply,
        });
      // Warm-up at the same pace (JIT, every connection open), not reported.
      await runLoad(client, stores.applications, {
        concurrency: options.concurrency ?? 8,
        ratePerSecond: options.ratePerSecond,
        requests: options.ratePerSecond * 2,
      });
      reasons.take();

      const healthy = stats('healthy', await load(), reasons.take());
      const faultLoad = load();
      // The fault lands mid-load, with requests in flight.
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (proxy) proxy.mode = 'hang';
      else await redis.kill();
      const during = stats('fault', await faultLoad, reasons.take());

      const backAt = performance.now();
      if (proxy) proxy.mode = 'pass';
      else {
        await redis.restart();
        await stores.reseedRedis();
      }
      let recoveryMs: number | null = null;
      const recovered = await load((reply) => {
        if (recoveryMs === null && reply.servedBy === 'redis')
          recoveryMs = performance.now() - backAt;
      });
      return {
        fault,
        ratePerSecond: options.ratePerSecond,
        phases: [healthy, during, stats('recovered', recovered, reasons.take())],
        recoveryMs,
        circuit,
      };
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    await proxy?.stop();
    await stores.stop();
  }
}

function stats(
  phase: PhaseStats['phase'],
  replies: readonly DecisionReply[],
  unavailable: PhaseStats['unavailable'],
): PhaseStats {
  const { p50, p99, max } = percentiles(replies.map((r) => r.ms));
  const fellBack = replies.filter(
    (r) => r.fallbackReason === 'timeout' || r.fallbackReason === 'error',
  );
  const fellBackMs = percentiles(fellBack.map((r) => r.ms));
  return {
    phase,
    requests: replies.length,
    errors: replies.filter((r) => r.status !== 200).length,
    p50,
    p99,
    max,
    outcomes: tally(replies),
    fellBack: {
      count: fellBack.length,
      p50: fellBack.length ? fellBackMs.p50 : NaN,
      max: fellBack.length ? fellBackMs.max : NaN,
    },
    unavailable,
  };
}
