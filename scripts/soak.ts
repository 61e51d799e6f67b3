/**
 * `npm run soak [-- --minutes 10 --rate 1000 --concurrency 8 --stores redis+dynamodb]`
 *
 * Steady load for N minutes against the bundled server (its own process, in front of the stores of
 * `--stores`, by default the deployed shape: Redis, then DynamoDB) while the SERVER's resident
 * memory is sampled from /proc/<pid>/status. The server logs every decision at info level as in
 * production, into a pipe the soak reads to tell why any 503 happened. Goals (issue 6): RSS flat
 * within 10 % and 0 errors. Loopback only; bounded in requests and time; stops the server and the
 * stores itself. Exits 1 when a goal is missed.
 *
 * "Flat" compares against the first sample after a warm-up (a fifth of the run, at most a
 * minute): V8 grows its heap and JIT caches during the first seconds of load by design; a leak
 * is growth after that.
 */
import { parseArgs } from 'node:util';
import {
  cpuTicks,
  createDecisionClient,
  percentiles,
  residentKib,
  runLoad,
  tally,
} from '../test/support/load.js';
import { BENCH_API_KEY, bundleServer, startServer, unavailableReasons } from './bench-server.js';
import { startStores, type StoreSetup } from './bench-stores.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    'sample-seconds': { type: 'string', default: '5' },
    // The deployed shape by default: redis-server over TCP in front, DynamoDB (dynalite in its
    // own process) behind. `redis` alone has nowhere to go when Redis stalls past the budget.
    stores: { type: 'string', default: 'redis+dynamodb' },
  },
});

const minutes = positive('minutes');
const rate = positive('rate');
const concurrency = positive('concurrency');
const sampleMs = positive('sample-seconds') * 1_000;
const durationMs = minutes * 60_000;
const warmupMs = Math.min(60_000, durationMs / 5);

function positive(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got "${args[name]}"`);
  return value;
}

const log = (message: string) => console.error(`[soak] ${message}`);

const STORE_SETUPS: readonly StoreSetup[] = ['redis', 'redis+dynamodb', 'upstash', 'dynamodb'];
const setup = args.stores as StoreSetup;
if (!STORE_SETUPS.includes(setup))
  throw new Error(`--stores must be one of ${STORE_SETUPS.join(', ')}, got "${args.stores}"`);

const stores = await startStores(setup);
const bundle = await bundleServer();
// Every line is read (a pipe instead of /dev/null) to tell why any 503 happened.
const reasons = unavailableReasons();
const server = await startServer(bundle, {
  env: { ...stores.env, LOG_LEVEL: 'info' },
  onLogLine: reasons.onLogLine,
  exposeGc: true,
});
const client = createDecisionClient(server.baseUrl, {
  apiKey: BENCH_API_KEY,
  connections: concurrency,
  timeoutMs: 5_000,
});
const samples: Array<{ atS: number; rssKib: number }> = [];
const started = performance.now();
const sample = () => {
  const rssKib = residentKib(server.pid);
  if (rssKib !== undefined) samples.push({ atS: (performance.now() - started) / 1_000, rssKib });
};

let exitCode = 1;
const ticksBefore = cpuTicks();
try {
  sample();
  const sampler = setInterval(() => {
    sample();
    const last = samples.at(-1);
    if (last && samples.length % Math.max(1, Math.round(60_000 / sampleMs)) === 0) {
      log(`${Math.round(last.atS)} s: server RSS ${(last.rssKib / 1024).toFixed(1)} MiB`);
    }
  }, sampleMs);
  log(
    `${minutes} min at ${rate} decisions/s, ${concurrency} connections, stores ${setup}, server pid ${server.pid}`,
  );
  // Live heap (after a full GC in the server) at the end of the warm-up and at the end: RSS can
  // grow while V8 is merely lazy about collecting; a live heap that grows is a leak.
  let heapAfterWarmup: Promise<{ heapUsed: number }> | undefined;
  const heapTimer = setTimeout(() => (heapAfterWarmup = server.liveHeap()), warmupMs);
  // Replies are not kept (their bodies would be the soak's own leak): only what the report needs.
  const latencies: number[] = [];
  const answers: Record<string, number> = {};
  let errors = 0;
  await runLoad(client, stores.applications, {
    concurrency,
    ratePerSecond: rate,
    requests: Math.ceil((rate * durationMs) / 1_000),
    maxDurationMs: durationMs,
    collect: false,
    onReply: (reply) => {
      latencies.push(reply.ms);
      if (reply.status !== 200) errors++;
      for (const [key, count] of Object.entries(tally([reply])))
        answers[key] = (answers[key] ?? 0) + count;
    },
  });
  clearInterval(sampler);
  clearTimeout(heapTimer);
  sample();
  const heapStart = (await heapAfterWarmup)?.heapUsed;
  const heapEnd = (await server.liveHeap()).heapUsed;

  const elapsedS = (performance.now() - started) / 1_000;
  const ticksAfter = cpuTicks();
  const stealPercent =
    ticksBefore && ticksAfter && ticksAfter.total > ticksBefore.total
      ? (100 * (ticksAfter.steal - ticksBefore.steal)) / (ticksAfter.total - ticksBefore.total)
      : undefined;
  const latency = percentiles(latencies);
  const steady = samples.filter((s) => s.atS * 1_000 >= warmupMs);
  const baseline = steady[0] ?? samples[0];
  const last = samples.at(-1)!;
  const max = samples.reduce((a, b) => (b.rssKib > a.rssKib ? b : a));
  const steadyMax = steady.reduce((a, b) => (b.rssKib > a.rssKib ? b : a), baseline);
  const growth = (steadyMax.rssKib - baseline.rssKib) / baseline.rssKib;
  const lastDrift = (last.rssKib - baseline.rssKib) / baseline.rssKib;
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const flat = Math.abs(lastDrift) <= 0.1 && growth <= 0.1;

  console.log(`# Soak: ${minutes} min, ${rate}/s target, ${concurrency} connections, stores ${setup} (${new Date().toISOString()})

requests ${latencies.length.toLocaleString('en-US')} in ${elapsedS.toFixed(0)} s (${Math.round(latencies.length / elapsedS)}/s); answers: ${JSON.stringify(answers)}
errors ${errors} (goal 0: ${errors === 0 ? 'met' : 'NOT MET'})${Object.entries(reasons.take())
    .map(
      ([reason, { count, examples }]) =>
        `\n  503 × ${count}: ${reason}${examples.map((example) => `\n    e.g. ${example}`).join('')}`,
    )
    .join('')}
CPU time stolen by the VM's host during the run: ${stealPercent === undefined ? 'unknown' : `${stealPercent.toFixed(2)} %`}
latency ms: p50 ${latency.p50.toFixed(3)}, p90 ${latency.p90.toFixed(3)}, p99 ${latency.p99.toFixed(3)}, max ${latency.max.toFixed(1)}

server RSS (${samples.length} samples every ${sampleMs / 1_000} s, warm-up ${Math.round(warmupMs / 1_000)} s):
  at start (idle)       ${mib(samples[0].rssKib)}
  after warm-up (first) ${mib(baseline.rssKib)} at ${Math.round(baseline.atS)} s
  last                  ${mib(last.rssKib)} at ${Math.round(last.atS)} s (${(lastDrift * 100).toFixed(1)} % vs after warm-up)
  max                   ${mib(max.rssKib)} at ${Math.round(max.atS)} s (after warm-up: ${mib(steadyMax.rssKib)}, +${(growth * 100).toFixed(1)} %)
flat within 10 % after warm-up: ${flat ? 'met' : 'NOT MET'}
server live heap after a full GC: ${heapStart === undefined ? '–' : mib(heapStart / 1024)} after warm-up, ${mib(heapEnd / 1024)} at the end

reproduce: npm run soak -- --minutes ${minutes} --rate ${rate} --concurrency ${concurrency} --stores ${setup}`);
  exitCode = errors === 0 && flat ? 0 : 1;
} finally {
  client.close();
  await server.stop();
  await bundle.remove();
  await stores.stop();
}
process.exit(exitCode);
