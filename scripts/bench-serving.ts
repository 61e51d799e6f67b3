/**
 * Serving benchmarks (issue: p50 ≤ 0.3 ms / p99 ≤ 1 ms sequential HTTP decisions against local
 * redis-server; in-process compute p99 ≤ 20 µs; import + model ready ≤ 20 ms beyond Node's start).
 *
 *   npm run bench -- --only serving [--requests 20000]
 *
 * The server runs in its own process (as in production), the client here sends one request at a
 * time over a keep-alive connection, so the latency is what one applicant sees end to end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import { DEFAULT_MODEL_PATH } from '../functions/node-runtime.js';
import { loadModel } from '../model/model.js';
import { parseLoanApplication } from '../functions/http/parse-application.js';
import { startRedisServer } from '../test/harness/redis-server.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] };
}

const APPLICANTS = 1_000;
const dobSsn = (i: number) => `1990${String((i % 12) + 1).padStart(2, '0')}${String((i % 28) + 1).padStart(2, '0')}_${String(i).padStart(4, '0')}`;

/** Sequential HTTP decisions against a server process reading redis-server over TCP. */
export async function benchHttpRedis(requests: number): Promise<Percentiles & { errors: number }> {
  const redis = await startRedisServer();
  const seed = new RedisTcpStore({ url: redis.url });
  await seed.write([
    zipcodeRecord(),
    ...Array.from({ length: APPLICANTS }, (_, i) => creditRecord(dobSsn(i))),
  ]);
  await seed.close();

  const server = spawn(
    process.execPath,
    ['--import', 'tsx', 'functions/node.ts'],
    {
      env: { ...process.env, PORT: '0', REDIS_URL: redis.url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk;
        const match = /on (http:\/\/localhost:\d+)/.exec(out);
        if (match) resolve(match[1]);
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL('/loan-decision', base);
    const bodies = Array.from({ length: APPLICANTS }, (_, i) =>
      JSON.stringify(applicationFor(dobSsn(i))),
    );
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    for (let i = 0; i < 2_000; i++) await post(bodies[i % APPLICANTS]); // warm-up (JIT, sockets)
    const samples: number[] = [];
    let errors = 0;
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const status = await post(bodies[i % APPLICANTS]);
      samples.push(performance.now() - t0);
      if (status !== 200) errors++;
    }
    agent.destroy();
    return { ...percentiles(samples), errors };
  } finally {
    server.kill('SIGTERM');
    await redis.stop();
  }
}

/** validate + encode + tree + JSON, in process, per decision (µs). */
export async function benchCompute(iterations: number): Promise<Percentiles> {
  const model = await loadModel(new Uint8Array(await readFile(DEFAULT_MODEL_PATH)));
  const records = [zipcodeRecord(), creditRecord(dobSsn(0))];
  const features = Object.assign({}, ...records.map((r) => r.values));
  const body = JSON.stringify(applicationFor(dobSsn(0)));
  const samples: number[] = [];
  for (let i = 0; i < iterations + 20_000; i++) {
    const t0 = performance.now();
    const application = parseLoanApplication(JSON.parse(body));
    const { prediction, reasons } = model.predict({ ...application, ...features });
    JSON.stringify({ decision: prediction.label, p: prediction.probabilities[1], reasons });
    const elapsed = performance.now() - t0;
    if (i >= 20_000) samples.push(elapsed * 1000);
  }
  return percentiles(samples);
}

/**
 * Cold start: a Node process that imports the bundled app, loads the model and answers one
 * in-process decision, minus a bare `node -e 0`, median of N runs (ms).
 */
export async function benchColdStart(runs: number): Promise<{ bareNodeMs: number; appMs: number; extraMs: number; bundleBytes: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cold-start-'));
  try {
    const entry = path.join(dir, 'entry.ts');
    const outfile = path.join(dir, 'cold.mjs');
    const { writeFile, stat } = await import('node:fs/promises');
    await writeFile(
      entry,
      `import { readFileSync } from 'node:fs';
import { featureViews } from ${JSON.stringify(path.resolve('features/definitions.ts'))};
import { EmbeddedStore } from ${JSON.stringify(path.resolve('features/online/embedded.ts'))};
import { createApp } from ${JSON.stringify(path.resolve('functions/app.ts'))};
import { createLogger } from ${JSON.stringify(path.resolve('functions/logger.ts'))};
import { loadModel } from ${JSON.stringify(path.resolve('model/model.ts'))};
const model = await loadModel(new Uint8Array(readFileSync(${JSON.stringify(path.resolve(DEFAULT_MODEL_PATH))})));
const app = createApp({ decision: { store: new EmbeddedStore(), model, views: featureViews, policy: {} }, logger: createLogger('silent'), storeName: 'embedded' });
const res = await app.request('/health');
if (res.status !== 200) process.exit(1);
`,
    );
    await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', minify: true, logLevel: 'silent' });
    const time = (args: string[]) => {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
        if (result.status !== 0) throw new Error(`cold-start run failed: ${args.join(' ')}`);
        samples.push(performance.now() - t0);
      }
      return percentiles(samples).p50;
    };
    const bareNodeMs = time(['-e', '0']);
    const appMs = time([outfile]);
    return { bareNodeMs, appMs, extraMs: appMs - bareNodeMs, bundleBytes: (await stat(outfile)).size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runServingBench(options: { requests: number }) {
  const compute = await benchCompute(100_000);
  console.log(`in-process compute (validate + encode + tree + JSON), µs: p50 ${compute.p50.toFixed(2)} p90 ${compute.p90.toFixed(2)} p99 ${compute.p99.toFixed(2)} max ${compute.max.toFixed(1)}`);
  const cold = await benchColdStart(15);
  console.log(`cold start (import bundle + model ready + first answer), median ms: bare node ${cold.bareNodeMs.toFixed(1)}, app ${cold.appMs.toFixed(1)}, extra ${cold.extraMs.toFixed(1)} (bundle ${(cold.bundleBytes / 1024).toFixed(0)} KiB)`);
  const httpRedis = await benchHttpRedis(options.requests);
  console.log(`sequential HTTP decisions, redis-server over TCP, ms (${options.requests} requests, ${httpRedis.errors} errors): p50 ${httpRedis.p50.toFixed(3)} p90 ${httpRedis.p90.toFixed(3)} p99 ${httpRedis.p99.toFixed(3)} max ${httpRedis.max.toFixed(2)}`);
  return { compute, cold, httpRedis };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' } } });
  await runServingBench({ requests: Number(values.requests) });
}
