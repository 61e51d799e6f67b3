/**
 * `npm run fuzz` — ≥ 100,000 hostile requests (fast-check plus raw bytes) against the real app
 * over the embedded store, checking on every one: a JSON 200/400/413/415/422, an error code on
 * errors, no dob_ssn in any response or log line. Then: no crash, no prototype pollution, heap
 * flat after GC. Prints a summary; exits 1 on any broken property.
 *
 *   npm run fuzz -- --runs 200000 --seed 42
 *
 * The generators and checks are shared with the 2,000-case sample in `npm test`
 * (test/support/hostile-requests.ts), which also sends 10 % of its requests without
 * Content-Length. Here every request carries an exact Content-Length, as from an HTTP/1.1 client
 * that does not chunk: without it, hono's bodyLimit rebuilds the request as
 * `new Request(c.req.raw, { body })`, and on Node 20's undici every such Request built from a
 * plain `app.request()` Request stays reachable (~1.8 KB each), which would swamp the heap
 * reading. `--chunked` keeps the chunked share to show it.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import {
  fuzzApp,
  hostileRequest,
  problemsWith,
  prototypeSnapshot,
  send,
} from '../test/support/hostile-requests.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'max-heap-growth-mb': { type: 'string', default: '16' },
    // Keep the generated chunked share (no Content-Length): reproduces the leak described below.
    chunked: { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
const seed = args.seed === undefined ? Date.now() ^ (Math.random() * 2 ** 31) : Number(args.seed);
const maxHeapGrowthMb = Number(args['max-heap-growth-mb']);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--runs N] [--seed INTEGER] [--max-heap-growth-mb MB]');
  process.exit(2);
}

// A real GC before each heap reading, whether or not node was started with --expose-gc.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

const crashes: unknown[] = [];
process.on('uncaughtException', (error) => crashes.push(error));
process.on('unhandledRejection', (error) => crashes.push(error));

const fuzz = await fuzzApp();
const prototypesBefore = prototypeSnapshot();
const statuses = new Map<number, number>();
const kinds = new Map<string, number>();
const warmUp = Math.min(2_000, Math.floor(runs / 10));
const heapSamples: { afterCases: number; heapUsed: number }[] = [];
let cases = 0;
let heapBaseline = 0;

console.log(
  `fuzzing POST /loan-decision(s): ${runs.toLocaleString('en-US')} cases, seed ${seed}${args.chunked ? ', 10 % chunked' : ''}`,
);
const started = performance.now();
let failure: unknown;
try {
  await fc.assert(
    fc.asyncProperty(hostileRequest, async (request) => {
      const response = await send(fuzz.app, request, { forceContentLength: !args.chunked });
      const problems = problemsWith(request, response, fuzz.logs);
      if (problems.length > 0) throw new Error(`${problems.join('; ')} (${request.kind})`);
      cases++;
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const kind = request.kind.split(',')[0];
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      // Baseline once the JIT and caches have settled, then a reading every 10 %.
      if (cases === warmUp) heapBaseline = heapAfterGc();
      if (cases > warmUp && cases % Math.max(1, Math.floor(runs / 10)) === 0) {
        heapSamples.push({ afterCases: cases, heapUsed: heapAfterGc() });
      }
    }),
    { numRuns: runs, seed },
  );
} catch (error) {
  failure = error;
}
const seconds = (performance.now() - started) / 1000;
const heapEnd = heapAfterGc();
const growth = heapEnd - heapBaseline;

const table = (map: Map<string | number, number>) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([key, count]) =>
        `    ${String(key).padEnd(28)} ${count.toLocaleString('en-US').padStart(9)}`,
    )
    .join('\n');

console.log(`
cases:     ${cases.toLocaleString('en-US')} in ${seconds.toFixed(1)} s (${Math.round(cases / seconds).toLocaleString('en-US')}/s), seed ${seed}
statuses:
${table(statuses)}
request kinds:
${table(kinds)}
heap (after GC): ${mb(heapBaseline)} after ${warmUp.toLocaleString('en-US')} warm-up cases → ${mb(heapEnd)} at the end (${growth >= 0 ? '+' : ''}${mb(growth)})
  ${heapSamples.map((s) => `${s.afterCases.toLocaleString('en-US')}: ${mb(s.heapUsed)}`).join(' · ')}
rss: ${mb(process.memoryUsage().rss)}`);

const broken: string[] = [];
if (failure)
  broken.push(
    `a property failed:\n${String(failure instanceof Error ? failure.message : failure)}`,
  );
if (crashes.length > 0)
  broken.push(`${crashes.length} uncaught errors/rejections: ${String(crashes[0])}`);
if (prototypeSnapshot() !== prototypesBefore) broken.push('a built-in prototype gained properties');
if (({} as Record<string, unknown>).polluted !== undefined)
  broken.push('Object.prototype.polluted is set');
if (growth > maxHeapGrowthMb * 2 ** 20)
  broken.push(`heap grew by ${mb(growth)} (limit ${maxHeapGrowthMb} MB)`);

if (broken.length > 0) {
  console.error(`\nFAILED:\n- ${broken.join('\n- ')}`);
  process.exit(1);
}
console.log(
  '\nOK: 0 × 5xx, only JSON 200/400/413/415/422 with error codes, no dob_ssn echoed, no crash, no pollution, heap flat',
);
process.exit(0);
