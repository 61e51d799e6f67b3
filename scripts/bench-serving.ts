/**
 * Serving latency (issue 2's numbers: sequential HTTP against local redis-server p50 ≤ 0.3 ms /
 * p99 ≤ 1 ms; in-process compute p99 ≤ 20 µs; import + model ready ≤ 20 ms beyond Node's start).
 *
 *   npm run bench -- --only serving [--quick]
 *
 * Sequential: the bundled server (bench-server.ts) runs in its own process, the client here sends
 * one request at a time over one keep-alive connection, so each figure is what one applicant sees
 * end to end, per store configuration.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { featureViews } from '../features/definitions.js';
import { DEFAULT_MODEL_PATH } from '../functions/node-runtime.js';
import { parseLoanApplication } from '../functions/http/parse-application.js';
import { loadModel } from '../model/model.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import {
  createDecisionClient,
  percentiles,
  tally,
  type Percentiles,
} from '../test/support/load.js';
import { BENCH_API_KEY, repoRoot, startServer, type ServerBundle } from './bench-server.js';
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
}

/**
 * dynalite (LevelDB in JS) is a functional stand-in, not a latency model of DynamoDB: it often
 * needs more than the 5 ms production deadline, so alone it gets 50 ms and its figure is
 * dynalite's, not DynamoDB's.
 */
const SETTINGS: Partial<Record<StoreSetup, Record<string, string>>> = {
  dynamodb: { DYNAMODB_DEADLINE_MS: '50' },
};

/** Sequential HTTP decisions, ms, against a server configured for `setup`. */
export async function benchSequential(
  bundle: ServerBundle,
  setup: StoreSetup,
  options: { requests: number; warmup: number },
): Promise<SequentialResult> {
  const stores = await startStores(setup);
  const settings = SETTINGS[setup] ?? {};
  try {
    const server = await startServer(bundle, {
      env: { ...stores.env, ...settings, LOG_LEVEL: 'warn' },
    });
    const client = createDecisionClient(server.baseUrl, {
      apiKey: BENCH_API_KEY,
      connections: 1,
    });
    try {
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
      for (let i = 0; i < options.warmup; i++) await client.decide(bodies[i % bodies.length]);
      const samples = new Float64Array(options.requests);
      const replies = [];
      for (let i = 0; i < options.requests; i++) {
        const reply = await client.decide(bodies[i % bodies.length]);
        samples[i] = reply.ms;
        replies.push(reply);
      }
      const outcomes = tally(replies);
      const errors = replies.filter((r) => r.status !== 200).length;
      const server = percentiles(replies.flatMap((r) => (r.serverMs === null ? [] : [r.serverMs])));
      return { setup, ...percentiles(samples), errors, outcomes, settings, server };
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    await stores.stop();
  }
}

/**
 * validate + encode + tree + JSON, in process, per decision (µs): what the handler does between
 * the body's bytes and the response's bytes, minus the store read and HTTP. The feature merge
 * copies decision.ts's assignment loops (an object spread takes a slow V8 path there).
 */
export async function benchCompute(iterations: number): Promise<Percentiles> {
  const model = await loadModel(new Uint8Array(await readFile(DEFAULT_MODEL_PATH)));
  const rows = [zipcodeRecord(), creditRecord('19700101_0001')];
  const body = JSON.stringify(applicationFor('19700101_0001'));
  const warmup = Math.min(20_000, iterations);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations + warmup; i++) {
    const t0 = performance.now();
    const application = parseLoanApplication(JSON.parse(body));
    const raw: Record<string, string | number | null | undefined> = {};
    for (const field in application) raw[field] = application[field];
    for (const view of featureViews) {
      const values = rows.find((r) => r.view.name === view.name)!.values;
      for (const feature of view.features) raw[feature.name] = values[feature.name];
    }
    const { prediction, reasons } = model.predict(raw);
    JSON.stringify({
      decision: prediction.label,
      probability_of_default: prediction.probabilities[1],
      reasons,
    });
    const elapsed = performance.now() - t0;
    if (i >= warmup) samples[i - warmup] = elapsed * 1000;
  }
  return percentiles(samples);
}

export interface ColdStart {
  readonly bareNodeMs: number;
  readonly appMs: number;
  readonly extraMs: number;
  readonly bundleBytes: number;
  readonly runs: number;
}

/**
 * Cold start: a Node process that imports the minified app bundle, loads the model and answers
 * one in-process request, minus a bare `node -e 0`; medians of `runs` runs (ms).
 */
export async function benchColdStart(runs: number): Promise<ColdStart> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cold-start-'));
  try {
    const outfile = path.join(dir, 'cold.mjs');
    const at = (file: string) => JSON.stringify(path.join(repoRoot, file));
    const entry = `import { readFileSync } from 'node:fs';
import { featureViews } from ${at('features/definitions.ts')};
import { EmbeddedStore } from ${at('features/online/embedded.ts')};
import { createApp } from ${at('functions/app.ts')};
import { createLogger } from ${at('functions/logger.ts')};
import { loadModel } from ${at('model/model.ts')};
const model = await loadModel(new Uint8Array(readFileSync(${JSON.stringify(DEFAULT_MODEL_PATH)})));
const app = createApp({ decision: { store: new EmbeddedStore(), model, views: featureViews, policy: {} }, logger: createLogger('silent'), storeName: 'embedded' });
const res = await app.request('/health');
if (res.status !== 200) process.exit(1);
`;
    await writeFile(path.join(dir, 'entry.ts'), entry);
    await build({
      entryPoints: [path.join(dir, 'entry.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      minify: true,
      logLevel: 'silent',
      nodePaths: [path.join(repoRoot, 'node_modules')],
    });
    const median = (args: string[]) => {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
        if (result.status !== 0) throw new Error(`cold-start run failed: node ${args.join(' ')}`);
        samples.push(performance.now() - t0);
      }
      return percentiles(samples).p50;
    };
    const bareNodeMs = median(['-e', '0']);
    const appMs = median([outfile]);
    return {
      bareNodeMs,
      appMs,
      extraMs: appMs - bareNodeMs,
      bundleBytes: (await stat(outfile)).size,
      runs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
