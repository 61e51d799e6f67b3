/**
 * Throughput under load: the highest decisions/s with p99 ≤ 5 ms and 0 errors against the bundled
 * server reading redis-server over TCP, stepping autocannon's connection count.
 *
 *   npm run bench -- --only throughput [--quick] [--no-pin]
 *
 * Client, server and redis-server share the machine. Where `taskset` exists the server is pinned
 * to CPU 0 and the autocannon client to CPU 1 (redis-server floats), so the client cannot steal
 * the server's core; with 2 cores that is the most the server can get on the same machine.
 *
 * autocannon records latencies in whole milliseconds; the client process here records every
 * response's exact time from autocannon's `response` event instead, for sub-ms percentiles.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { percentiles } from '../test/support/load.js';
import {
  BENCH_API_KEY,
  canPin,
  startServer,
  unavailableReasons,
  type ServerBundle,
} from './bench-server.js';
import { startStores } from './bench-stores.js';

export const P99_LIMIT_MS = 5;

export interface LoadStep {
  readonly connections: number;
  readonly seconds: number;
  /** 200 answers per second. */
  readonly decisionsPerSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Non-200 answers, connection errors and timeouts. */
  readonly errors: number;
  /** The server's logged reasons for its 503s in this step (digits folded to #), with examples. */
  readonly unavailable?: Record<string, { count: number; examples: string[] }>;
}

export interface ThroughputResult {
  readonly steps: LoadStep[];
  /** The step with the most decisions/s among those with p99 ≤ 5 ms and 0 errors. */
  readonly best: LoadStep | undefined;
  readonly pinned: boolean;
}

interface ClientSpec {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly bodies: readonly string[];
  readonly apiKey: string;
}

export async function benchThroughput(
  bundle: ServerBundle,
  options: { connections: readonly number[]; seconds: number; pin: boolean },
): Promise<ThroughputResult> {
  const pinned = options.pin && canPin();
  const stores = await startStores('redis');
  try {
    // At warn level the server logs only what went wrong: each 503 with its reason.
    const reasons = unavailableReasons();
    const server = await startServer(bundle, {
      env: { ...stores.env, LOG_LEVEL: 'warn' },
      onLogLine: reasons.onLogLine,
      cpus: pinned ? '0' : undefined,
    });
    try {
      const bodies = stores.applications.map((a) => JSON.stringify(a));
      const run = (connections: number, seconds: number) =>
        runClient(
          { url: server.baseUrl, connections, seconds, bodies, apiKey: BENCH_API_KEY },
          pinned ? '1' : undefined,
        );
      await run(8, Math.min(3, options.seconds)); // JIT warm-up, not reported
      reasons.take();
      const steps: LoadStep[] = [];
      for (const connections of options.connections) {
        const step = { ...(await run(connections, options.seconds)), unavailable: reasons.take() };
        steps.push(step);
        console.error(
          `  ${connections} connections: ${Math.round(step.decisionsPerSecond)}/s, p99 ${step.p99.toFixed(2)} ms, ${step.errors} errors`,
        );
      }
      const within = steps.filter((s) => s.p99 <= P99_LIMIT_MS && s.errors === 0);
      const best = within.sort((a, b) => b.decisionsPerSecond - a.decisionsPerSecond)[0];
      return { steps, best, pinned };
    } finally {
      await server.stop();
    }
  } finally {
    await stores.stop();
  }
}

/** One autocannon run in a child process of its own (pinned when asked). */
function runClient(spec: ClientSpec, cpus: string | undefined): Promise<LoadStep> {
  const argv = [
    process.execPath,
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--autocannon-client',
  ];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon client exited with ${code}`));
      resolve(JSON.parse(out) as LoadStep);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

async function clientMain(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const spec = JSON.parse(input) as ClientSpec;
  const latencies: number[] = [];
  let rejected = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.seconds,
        timeout: 10,
        requests: spec.bodies.map((body) => ({
          method: 'POST' as const,
          path: '/loan-decision',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.apiKey}` },
          body,
        })),
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) latencies.push(responseTime);
      else rejected++;
    });
  });
  const stats = percentiles(latencies);
  const step: LoadStep = {
    connections: spec.connections,
    seconds: result.duration,
    decisionsPerSecond: latencies.length / result.duration,
    p50: stats.p50,
    p90: stats.p90,
    p99: stats.p99,
    max: stats.max,
    // autocannon's `errors` already include its timeouts.
    errors: rejected + result.errors,
  };
  process.stdout.write(JSON.stringify(step));
}

if (process.argv.includes('--autocannon-client')) await clientMain();
