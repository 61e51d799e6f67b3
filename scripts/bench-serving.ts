/**
 * Serving latency (issue 2's numbers: sequential HTTP against local redis-server p50 ≤ 0.3 ms /
 * p99 ≤ 1 ms; in-process compute p99 ≤ 20 µs; import + model ready ≤ 20 ms beyond Node's start).
 *
 *   npm run bench -- --only serving [--quick]
 *
 * Sequential: the bundled server (bench-server.ts) runs in its own process, the client here sends
 * one request at a time over one keep-alive connection, so each figure is what one applicant sees
 * end to end, per store configuration. The client is test/support/lean-client.ts: node:http's
 * own client costs ~0.14 ms more per round trip on the benchmark VM, which is the client's, not
 * the server's. `benchHttpFloor` measures the same client against a bare node:http server: the
 * machine's floor under every row. With `floor`, the redis row also measures a bare server that
 * reads the same redis-server first (startFloorServer), in rounds alternating with the app's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { featureViews } from '../features/definitions.js';
import { KeyLayout, viewFieldNames } from '../features/online/key-layout.js';
import type { ViewResults } from '../features/online/types.js';
import { createModelInputBuilder } from '../functions/decision.js';
import { DEFAULT_MODEL_PATH } from '../functions/node-runtime.js';
import { parseLoanApplication } from '../functions/http/parse-application.js';
import { loadModel } from '../model/model.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import { createLeanDecisionClient } from '../test/support/lean-client.js';
import {
  percentiles,
  processCpuMicros,
  tally,
  withoutBody,
  type Percentiles,
} from '../test/support/load.js';
import {
  BENCH_API_KEY,
  lambdaBuildOptions,
  repoRoot,
  startServer,
  type ServerBundle,
} from './bench-server.js';
import { startStores, type StoreSetup } from './bench-stores.js';

export interface SequentialResult extends Percentiles {
  readonly setup: StoreSetup;
  readonly errors: number;
  /** Replies by status and store, e.g. { "200 redis": 20000 }. */
  readonly outcomes: Record<string, number>;
  /** Settings the server ran with beyond the store's own (deadlines). */
  readonly settings: Record<string, string>;
  /** The handler's own time (Server-Timing total): the app's share of the client's figure. */
  readonly server: Percentiles;
  /**
   * With `floor`: the floor server reading the same redis-server (startFloorServer), measured
   * in rounds that alternate with the app's, so that a spell of the machine hits both alike.
   */
  readonly floor?: Percentiles;
  /**
   * The server process's CPU time per request, µs (all its threads, processCpuMicros), over the
   * measured requests: what the client's figure is made of beyond waiting. Undefined off Linux.
   */
  readonly serverCpuMicros?: number;
  /** The same for the floor server, over its own rounds. */
  readonly floorCpuMicros?: number;
}

/**
 * Settings beyond the production defaults, per store. None now: a store serving alone gives up on
 * a read at FEATURE_READ_TIMEOUT_MS (100 ms), so dynalite (LevelDB in JS, a functional stand-in
 * that often needs more than 5 ms) is measured as it is.
 */
const SETTINGS: Partial<Record<StoreSetup, Record<string, string>>> = {};

/**
 * Where the sequential chain runs. "one-cpu": the client (this process, every thread), its stores
 * and the server all pinned to CPU 0, so a hop from one to the next is a context switch on a
 * running CPU. "free": the scheduler places them, and on a 2-vCPU VM most hops wake the other
 * vCPU from idle: with the guest's halt polling off (guest_halt_poll_ns 0, as on the bench VM) that is an
 * exit to the hypervisor and back per wake-up, several per request, which is the VM's cost
 * rather than the server's. Both are reported.
 */
export type Placement = 'one-cpu' | 'free';

/** The sequential rows and the floor, in one placement. */
export interface SequentialRun {
  readonly placement: Placement;
  readonly results: SequentialResult[];
  /** The bare floor (benchHttpFloor) in the same placement. */
  readonly floor: Percentiles;
}

export interface SequentialOptions {
  readonly requests: number;
  /** Warm-up: at least this many requests, and for at least `warmupMs`, before measuring. */
  readonly warmup: number;
  readonly warmupMs: number;
}

/**
 * Sends `once` at least `warmup` times and for at least `warmupMs`. A count alone is not enough: after
 * 2,000 requests (0.5 s) V8 was still optimizing the handler, and requests over 1 ms bunched in
 * the measured run's first ~1.5 s (61, 28, 16, 14 per 0.5 s, then a steady ~10).
 */
async function warmUp(
  once: (i: number) => Promise<unknown>,
  options: Pick<SequentialOptions, 'warmup' | 'warmupMs'>,
): Promise<void> {
  const until = performance.now() + options.warmupMs;
  for (let i = 0; i < options.warmup || performance.now() < until; i++) await once(i);
}

/** Sequential HTTP decisions, ms, against a server configured for `setup`. */
export async function benchSequential(
  bundle: ServerBundle,
  setup: StoreSetup,
  options: SequentialOptions & { floor?: { answerBytes: number } },
): Promise<SequentialResult> {
  const stores = await startStores(setup);
  const settings = SETTINGS[setup] ?? {};
  try {
    const server = await startServer(bundle, {
      env: { ...stores.env, ...settings, LOG_LEVEL: 'warn' },
    });
    const client = createLeanDecisionClient(server.baseUrl, { apiKey: BENCH_API_KEY });
    let floor: Awaited<ReturnType<typeof startFloorServer>> | undefined;
    let floorClient: ReturnType<typeof createLeanDecisionClient> | undefined;
    try {
      if (options.floor && stores.env.REDIS_URL) {
        floor = await startFloorServer({ ...options.floor, redisUrl: stores.env.REDIS_URL });
        floorClient = createLeanDecisionClient(floor.url);
      }
      let applications = stores.applications;
      if (setup === 'embedded') {
        // Keep the sample applicants the sample data fully covers (both views present).
        const answered = [];
        for (const application of applications) {
          if ((await client.decide(application)).status === 200) answered.push(application);
        }
        applications = answered;
        if (applications.length === 0)
          throw new Error('embedded store answered no sample applicant');
      }
      const bodies = applications.map((a) => JSON.stringify(a));
      await warmUp((i) => client.decide(bodies[i % bodies.length]), options);
      const samples = new Float64Array(options.requests);
      const replies = [];
      const floorSamples: number[] = [];
      const floorDecide = async (i: number) => {
        const reply = await floorClient!.decide(bodies[i % bodies.length]);
        if (reply.status !== 200) throw new Error(`floor server answered ${reply.status}`);
        return reply.ms;
      };
      if (floorClient) await warmUp(floorDecide, options);
      // Without a floor, one round; with one, ten rounds each, floor and app taking turns.
      const rounds = floorClient ? 10 : 1;
      // NaN where /proc cannot tell: the sums then say so (undefined in the result).
      const cpuOf = (pid: number) => processCpuMicros(pid) ?? NaN;
      const cpu = { server: 0, floor: 0 };
      let next = 0;
      for (let round = 0; round < rounds; round++) {
        const end = Math.round(((round + 1) * options.requests) / rounds);
        if (floorClient) {
          const start = cpuOf(floor!.pid);
          for (let i = next; i < end; i++) floorSamples.push(await floorDecide(i));
          cpu.floor += cpuOf(floor!.pid) - start;
        }
        const start = cpuOf(server.pid);
        for (; next < end; next++) {
          const reply = await client.decide(bodies[next % bodies.length]);
          samples[next] = reply.ms;
          replies.push(withoutBody(reply));
        }
        cpu.server += cpuOf(server.pid) - start;
      }
      const outcomes = tally(replies);
      const errors = replies.filter((r) => r.status !== 200).length;
      const handler = percentiles(
        replies.flatMap((r) => (r.serverMs === null ? [] : [r.serverMs])),
      );
      return {
        setup,
        ...percentiles(samples),
        errors,
        outcomes,
        settings,
        server: handler,
        ...(floorClient ? { floor: percentiles(floorSamples) } : {}),
        ...(Number.isFinite(cpu.server) ? { serverCpuMicros: cpu.server / options.requests } : {}),
        ...(floorClient && Number.isFinite(cpu.floor)
          ? { floorCpuMicros: cpu.floor / floorSamples.length }
          : {}),
      };
    } finally {
      client.close();
      floorClient?.close();
      floor?.stop();
      await server.stop();
    }
  } finally {
    await stores.stop();
  }
}

/**
 * validate + encode + tree + JSON, in process, per decision (µs): what the handler does between
 * the body's bytes and the response's bytes, minus the store read and HTTP. The feature merge
 * is decision.ts's own (createModelInputBuilder).
 */
export interface ComputeResult extends Percentiles {
  /**
   * The same decision run once after each 1 ms of idleness (a sleeping event loop, as between
   * sequential requests): how much slower the same code runs on a CPU that has just woken.
   */
  readonly afterIdle: Percentiles;
  /** The machine's own interruptions, measured right after the back-to-back run. */
  readonly interruptions: Interruptions;
}

export interface Interruptions {
  /** Gaps longer than `thresholdUs` between two back-to-back reads of the clock, per ms. */
  readonly perMs: number;
  readonly medianGapUs: number;
  readonly p90GapUs: number;
  readonly thresholdUs: number;
  readonly spanMs: number;
}

/**
 * How often this thread is taken off its CPU (interrupts, the host's steal, the scheduler): a loop
 * that only reads the clock, for `spanMs`, counts the gaps between two reads longer than
 * `thresholdUs` (back to back, reads are well under 1 µs apart). A decision that takes t µs
 * meets such a gap with probability ≈ perMs × t / 1000, whatever its code does: that share of
 * the samples is the floor under the compute percentiles.
 */
export function measureInterruptions(spanMs = 200, thresholdUs = 5): Interruptions {
  const gaps: number[] = [];
  const started = performance.now();
  let previous = started;
  let now = started;
  while (now - started < spanMs) {
    now = performance.now();
    const gapUs = (now - previous) * 1000;
    if (gapUs > thresholdUs) gaps.push(gapUs);
    previous = now;
  }
  const spread = percentiles(gaps);
  return {
    perMs: gaps.length / (now - started),
    medianGapUs: gaps.length ? spread.p50 : 0,
    p90GapUs: gaps.length ? spread.p90 : 0,
    thresholdUs,
    spanMs: now - started,
  };
}

export async function benchCompute(iterations: number): Promise<ComputeResult> {
  const model = await loadModel(new Uint8Array(await readFile(DEFAULT_MODEL_PATH)));
  const views = Object.fromEntries(
    [zipcodeRecord(), creditRecord('19700101_0001')].map((row) => [
      row.view.name,
      { status: 'present', eventTimestamp: row.eventTimestamp, values: row.values },
    ]),
  ) as ViewResults;
  const modelInput = createModelInputBuilder(model, featureViews);
  const body = JSON.stringify(applicationFor('19700101_0001'));
  const decideOnce = () => {
    const t0 = performance.now();
    const application = parseLoanApplication(JSON.parse(body));
    const { prediction, reasons } = model.predict(modelInput(application, views));
    JSON.stringify({
      decision: prediction.label,
      probability_of_default: prediction.probabilities[1],
      reasons,
    });
    return (performance.now() - t0) * 1000;
  };
  const warmup = Math.min(20_000, iterations);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations + warmup; i++) {
    const elapsed = decideOnce();
    if (i >= warmup) samples[i - warmup] = elapsed;
  }
  const interruptions = measureInterruptions();
  const idleRuns = Math.min(3_000, iterations);
  const afterIdle = new Float64Array(idleRuns);
  for (let i = 0; i < idleRuns; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    afterIdle[i] = decideOnce();
  }
  return { ...percentiles(samples), afterIdle: percentiles(afterIdle), interruptions };
}

/**
 * A floor server: a bare node:http server in its own process that parses the JSON body and
 * answers a fixed JSON body of `answerBytes`: one HTTP round trip on this machine, with no
 * framework, store or model.
 *
 * With `redisUrl`, it first reads the applicant's feature hashes from that redis-server with
 * node-redis (the client the app's TCP store uses: RESP2, one pipelined round trip of one HMGET
 * per feature view, the same keys and fields), and answers 500 when a hash is missing: the floor
 * under the redis row, which no code in the handler can go below on this machine.
 */
async function startFloorServer(options: {
  answerBytes: number;
  redisUrl?: string;
}): Promise<{ url: string; pid: number; stop(): void }> {
  const layout = new KeyLayout();
  // Hand-written here on purpose: it is the floor because it has nothing of the app in it.
  const serverCode = `
const http = require('node:http');
const answer = JSON.stringify({ pad: 'x'.repeat(${Math.max(0, options.answerBytes - 10)}) });
const reads = JSON.parse(process.env.FLOOR_READS ?? '[]');
const redis = reads.length ? require('redis').createClient({ url: process.env.FLOOR_REDIS_URL, RESP: 2 }) : undefined;
const send = (res, status) => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
  res.end(answer);
};
const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const application = JSON.parse(body);
    if (!redis) return send(res, 200);
    const pipeline = redis.multi();
    for (const { prefix, entity, fields } of reads) pipeline.hmGet(prefix + application[entity], fields);
    pipeline.execAsPipeline().then(
      (replies) => send(res, replies.every((values) => values[0] !== null) ? 200 : 500),
      () => send(res, 503),
    );
  });
});
(redis ? redis.connect() : Promise.resolve()).then(() =>
  server.listen(0, '127.0.0.1', function () { process.send({ port: this.address().port }); }),
);
process.on('disconnect', () => process.exit(0));`;
  const reads = options.redisUrl
    ? featureViews.map((view) => ({
        // The app's keys (key-layout.ts) without keyed hashing: the floor answers 500 if not.
        prefix: `${layout.redisKeyPrefix}${view.entity.name}:`,
        entity: view.entity.name,
        fields: viewFieldNames(view).readFields,
      }))
    : [];
  const child = spawn(process.execPath, ['-e', serverCode], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FLOOR_READS: JSON.stringify(reads),
      FLOOR_REDIS_URL: options.redisUrl ?? '',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: { port: number }) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`floor server exited (${code})`)));
    });
    return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill() };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/**
 * The floor under every sequential figure: the same lean client against a bare floor server
 * (startFloorServer, without Redis).
 */
export async function benchHttpFloor(
  options: SequentialOptions & { answerBytes: number },
): Promise<Percentiles> {
  const floor = await startFloorServer({ answerBytes: options.answerBytes });
  const client = createLeanDecisionClient(floor.url);
  try {
    const body = JSON.stringify(applicationFor('19700101_0001'));
    await warmUp(() => client.decide(body), options);
    const samples = new Float64Array(options.requests);
    for (let i = 0; i < options.requests; i++) {
      const reply = await client.decide(body);
      if (reply.status !== 200) throw new Error(`floor server answered ${reply.status}`);
      samples[i] = reply.ms;
    }
    return percentiles(samples);
  } finally {
    client.close();
    floor.stop();
  }
}

/** Bytes of an esbuild output and of every chunk it imports statically: what a start loads. */
function staticGraphBytes(metafile: Metafile, entry: string): number {
  const byPath = new Map(
    Object.entries(metafile.outputs).map(([file, output]) => [path.resolve(file), output]),
  );
  const seen = new Set<string>();
  const visit = (file: string) => {
    const output = byPath.get(file);
    if (!output || seen.has(file)) return;
    seen.add(file);
    for (const imported of output.imports) {
      if (imported.kind === 'import-statement') visit(path.resolve(imported.path));
    }
  };
  visit(path.resolve(entry));
  if (seen.size === 0) throw new Error(`cold-start bundle ${entry} is not among esbuild's outputs`);
  return [...seen].reduce((sum, file) => sum + byPath.get(file)!.bytes, 0);
}

export interface ColdStart {
  /** Node's own start: a bare script's first statement, ms after the process began. */
  readonly nodeStartMs: number;
  /** The same mark inside the app's processes: a one-line `--import` preload's statement. */
  readonly preloadMs: number;
  /** The app bundle imported (its entry's first statement), ms after the process began. */
  readonly importedMs: number;
  /** Model loaded and app built: ready to serve, ms after the process began. */
  readonly readyMs: number;
  /** The first decision answered in process (app.request), ms after the process began. */
  readonly firstDecisionMs: number;
  /**
   * Import + model ready beyond Node's own start (issue 2's figure): the median over runs of
   * ready − preload mark, both read in the same process, less `mainModuleMs`.
   */
  readonly extraMs: number;
  /** The median of ready − preload mark alone (before subtracting `mainModuleMs`). */
  readonly pairedMs: number;
  /**
   * What Node spends between a preloaded module and the first statement of a bare main module
   * (resolving, reading and linking it): the median of that gap in processes that run the same
   * preload before the bare script. A bare script's start includes it, so it is not the app's.
   */
  readonly mainModuleMs: number;
  /** readyMs − nodeStartMs: the same figure from medians of different processes (noisier). */
  readonly unpairedExtraMs: number;
  /** The entry chunk and the chunks it imports statically (code splitting on). */
  readonly bundleBytes: number;
  readonly runs: number;
}

/**
 * Cold start, from inside fresh processes: each run is a new `node` that imports the minified app
 * bundle (esbuild), loads model/model.onnx, builds the app and answers one decision in process;
 * it reports performance.now() (ms since the process began) at each step. Node's own start is
 * the same mark at the first statement of a bare script. Medians of `runs` runs of each.
 *
 * The figure is paired: each app process also marks Node's own start itself, in a one-line
 * module preloaded with `--import` (it runs before the bundle loads), and the figure is the median
 * of ready − that mark, less what Node spends between such a preload and a bare main module's
 * first statement (measured the same way, in the bare script run with the preload). The
 * difference of two medians from different processes, also reported, swings with the machine:
 * Node's own start alone moved from ~78 to ~104 ms between two hours of the same day here, and
 * that figure gave 14.9, 27.5 and 30.5 ms in three back-to-back runs of one commit, where the
 * paired one (before the bare-main correction, ~1.2 ms) gave 25.6–26.7 ms.
 *
 * The first decision is reported apart from "ready" because on Node 20 it also pays Node's lazy
 * load of its fetch implementation (undici: the first touch of the global Request costs ~25 ms
 * here), which app.request and hono/aws-lambda both need; @hono/node-server does not.
 */
export async function benchColdStart(runs: number): Promise<ColdStart> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cold-start-'));
  try {
    const outfile = path.join(dir, 'cold.mjs');
    const bare = path.join(dir, 'bare.mjs');
    // The mark comes first: touching process.stdout sets up a stream (~2 ms here), which is
    // not part of Node's start. With the preload, it also reports the preload's mark.
    await writeFile(
      bare,
      'const start = performance.now();\nprocess.stdout.write(JSON.stringify({ start, preload: globalThis.__coldStartPreload }));\n',
    );
    const preload = path.join(dir, 'preload.mjs');
    await writeFile(preload, 'globalThis.__coldStartPreload = performance.now();\n');
    const at = (file: string) => JSON.stringify(path.join(repoRoot, file));
    const entry = `const imported = performance.now();
import { readFileSync } from 'node:fs';
import { featureViews } from ${at('features/definitions.ts')};
import { EmbeddedStore } from ${at('features/online/embedded.ts')};
import { createApp } from ${at('functions/app.ts')};
import { createLogger } from ${at('functions/logger.ts')};
import { loadModel } from ${at('model/model.ts')};
import { applicationFor, creditRecord, zipcodeRecord } from ${at('test/fixtures/applicant.ts')};
const model = await loadModel(new Uint8Array(readFileSync(${JSON.stringify(DEFAULT_MODEL_PATH)})));
const store = new EmbeddedStore();
await store.write([zipcodeRecord(), creditRecord('19700101_0001')]);
const app = createApp({ decision: { store, model, views: featureViews, policy: {} }, logger: createLogger('silent'), storeName: 'embedded' });
const ready = performance.now();
const res = await app.request('/loan-decision', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(applicationFor('19700101_0001')),
});
if (res.status !== 200) process.exit(1);
await res.text();
process.stdout.write(JSON.stringify({ preload: globalThis.__coldStartPreload, imported, ready, first: performance.now() }));
`;
    await writeFile(path.join(dir, 'entry.ts'), entry);
    // Built as infra/api.ts has SST build the Lambda: what the app imports on demand (the rate
    // limiter's libraries) becomes chunks of its own, which a start without them never parses.
    const { metafile } = await build({
      ...lambdaBuildOptions(path.join(dir, 'entry.ts'), dir, 'cold'),
      nodePaths: [path.join(repoRoot, 'node_modules')],
    });
    const marks = (...args: string[]) => {
      const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`cold-start run failed: node ${args.join(' ')}`);
      return JSON.parse(result.stdout) as Record<string, number>;
    };
    // Interleaved, so a slow spell of the machine hits both alike.
    const starts: number[] = [];
    const bareMains: number[] = [];
    const app: Array<Record<string, number>> = [];
    const preloaded = ['--import', pathToFileURL(preload).href];
    for (let i = 0; i < runs; i++) {
      starts.push(marks(bare).start);
      const twin = marks(...preloaded, bare);
      app.push(marks(...preloaded, outfile));
      if (typeof twin.preload !== 'number' || typeof app.at(-1)!.preload !== 'number') {
        throw new Error('cold-start run did not report its --import preload mark');
      }
      bareMains.push(twin.start - twin.preload);
    }
    const median = (values: number[]) => percentiles(values).p50;
    const nodeStartMs = median(starts);
    const readyMs = median(app.map((m) => m.ready));
    const pairedMs = median(app.map((m) => m.ready - m.preload));
    const mainModuleMs = median(bareMains);
    return {
      nodeStartMs,
      preloadMs: median(app.map((m) => m.preload)),
      importedMs: median(app.map((m) => m.imported)),
      readyMs,
      firstDecisionMs: median(app.map((m) => m.first)),
      extraMs: pairedMs - mainModuleMs,
      pairedMs,
      mainModuleMs,
      unpairedExtraMs: readyMs - nodeStartMs,
      bundleBytes: staticGraphBytes(metafile, outfile),
      runs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
