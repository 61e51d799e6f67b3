/**
 * The server under benchmark, as production runs it: functions/node.ts's wiring (parseConfig →
 * createNodeRuntime → @hono/node-server) bundled by esbuild into one file and run by plain `node`
 * in its own process, configured only through environment variables, in front of real stores
 * seeded with the same applicants the client sends.
 *
 * The entry differs from functions/node.ts in two ways only: it listens on 127.0.0.1 (node.ts
 * listens on every interface and has no HOST setting) and reports its port over IPC instead of a
 * banner on stdout, so stdout carries nothing but the app's JSON log lines.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { DEFAULT_MODEL_PATH, DEFAULT_SAMPLE_DATA_DIR } from '../functions/node-runtime.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SERVER_ENTRY = `
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { parseConfig } from './functions/config.js';
import { createNodeRuntime } from './functions/node-runtime.js';
const config = parseConfig(process.env);
const runtime = await createNodeRuntime(config, {
  clientIp: (c) => getConnInfo(c).remote.address,
});
const server = serve({ fetch: runtime.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.send?.({ port: info.port });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    void runtime.close().finally(() => process.exit(0));
  });
}
// The IPC channel closes when the bench dies; never outlive it.
process.on('disconnect', () => process.exit(0));
// The soak asks for the live heap: after a full collection (with --expose-gc), what is still held.
process.on('message', (message) => {
  if (message !== 'live-heap') return;
  globalThis.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  process.send?.({ heapUsed, rss, collected: typeof globalThis.gc === 'function' });
});
`;

/** The bearer key the benchmark clients send; the server requires it, as deployed stages do. */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

/**
 * Production security settings (NODE_ENV=production: API keys required; rate limiting on when
 * Upstash is configured) with limits far above any benchmark's rate, so the limiter's cost is
 * measured but it never answers 429.
 */
const PRODUCTION_SECURITY = {
  NODE_ENV: 'production',
  API_KEYS: BENCH_API_KEY,
  RATE_LIMIT_PER_KEY: '1000000000',
  RATE_LIMIT_PER_IP: '1000000000',
};

export interface ServerBundle {
  readonly file: string;
  readonly bytes: number;
  remove(): Promise<void>;
}

// Some dependencies are CommonJS and call require(); ESM output needs one.
const REQUIRE_BANNER = {
  js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
};

/**
 * esbuild options that build an entry as infra/api.ts has SST build the Lambda: minified ESM for
 * Node 22, code splitting (`nodejs.splitting`: each dynamically imported module a chunk of its
 * own), into `outdir` as `<entryName>.mjs` plus its chunks. The cold-start benches use it.
 */
export function lambdaBuildOptions(
  entry: string,
  outdir: string,
  entryName: string,
): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    outdir,
    entryNames: entryName,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    metafile: true,
    banner: REQUIRE_BANNER,
    logLevel: 'silent',
  };
}

/** Bundles the server (ESM, every dependency inlined, not minified so stack traces read). */
export async function bundleServer(): Promise<ServerBundle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-server-'));
  const file = path.join(dir, 'server.mjs');
  await build({
    stdin: {
      contents: SERVER_ENTRY,
      resolveDir: repoRoot,
      sourcefile: 'bench-server-entry.ts',
      loader: 'ts',
    },
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    banner: REQUIRE_BANNER,
  });
  return {
    file,
    bytes: (await stat(file)).size,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Why the server answered 503, from its own log lines ("feature stores unavailable", logged at
 * warn with the store's error): counts per message, digits folded to `#` so that "within 9 ms
 * (timer ran 0.4 ms late)" and "... 1.2 ms late" count together, and the first few messages of
 * each as logged (how late a timer ran tells a slow store from a stalled server). Pass
 * `onLogLine` to startServer.
 */
export function unavailableReasons(examplesPerReason = 5): {
  readonly onLogLine: (line: string) => void;
  /** The tally since the last take(), which starts a new one (one per load phase). */
  take(): Record<string, { count: number; examples: string[] }>;
} {
  let tally: Record<string, { count: number; examples: string[] }> = {};
  return {
    take() {
      const taken = tally;
      tally = {};
      return taken;
    },
    onLogLine(line) {
      // A cheap test first: at info level every decision is a line.
      if (!line.includes('feature stores unavailable')) return;
      const { error } = JSON.parse(line) as { error?: unknown };
      const message = String(error ?? 'no error logged');
      const reason = message.replace(/\d+(\.\d+)?/g, '#');
      const entry = (tally[reason] ??= { count: 0, examples: [] });
      entry.count++;
      if (entry.examples.length < examplesPerReason) entry.examples.push(message);
    },
  };
}

export interface ServerProcess {
  readonly baseUrl: string;
  readonly pid: number;
  /** Resolves when the process exits (code or signal). */
  readonly exited: Promise<string>;
  /** Heap in use after a full GC (needs `exposeGc`) and RSS, in bytes, as the server sees them. */
  liveHeap(): Promise<{ heapUsed: number; rss: number; collected: boolean }>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Settings as the deployment would set them (REDIS_URL, DYNAMODB_TABLE, LOG_LEVEL...). */
  readonly env: Record<string, string>;
  /** Each stdout line (a JSON log line); without it stdout is discarded. */
  readonly onLogLine?: (line: string) => void;
  /** `taskset -c` CPU list to pin the server to (e.g. "0"). */
  readonly cpus?: string;
  /** Run node with --expose-gc so liveHeap() can collect first. */
  readonly exposeGc?: boolean;
  /** Extra node flags (e.g. `--cpu-prof` when profiling the server under a benchmark's load). */
  readonly nodeArgs?: readonly string[];
}

/** Starts the bundled server and waits until it listens. */
export async function startServer(
  bundle: ServerBundle,
  options: ServerOptions,
): Promise<ServerProcess> {
  const env = {
    PATH: process.env.PATH ?? '',
    ...PRODUCTION_SECURITY,
    MODEL_PATH: DEFAULT_MODEL_PATH,
    SAMPLE_DATA_DIR: DEFAULT_SAMPLE_DATA_DIR,
    ...options.env,
  };
  const argv = [
    process.execPath,
    ...(options.exposeGc ? ['--expose-gc'] : []),
    ...(options.nodeArgs ?? []),
    bundle.file,
  ];
  const [command, ...args] = options.cpus ? ['taskset', '-c', options.cpus, ...argv] : argv;
  const child = spawn(command, args, {
    env,
    cwd: repoRoot,
    stdio: ['ignore', options.onLogLine ? 'pipe' : 'ignore', 'pipe', 'ipc'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  if (options.onLogLine) createInterface({ input: child.stdout! }).on('line', options.onLogLine);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      resolve(signal ?? `exit ${code}`);
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not listen within 30 s: ${stderr}`)),
      30_000,
    );
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      if (message.port) resolve(message.port);
      else reject(new Error(`server sent ${JSON.stringify(message)}`));
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`server ended (${how}) before listening: ${stderr}`));
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    exited,
    liveHeap: () =>
      new Promise((resolve) => {
        child.once('message', (message) =>
          resolve(message as { heapUsed: number; rss: number; collected: boolean }),
        );
        child.send('live-heap');
      }),
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Whether `taskset` can pin processes here (Linux with util-linux, at least 2 CPUs). */
export function canPin(): boolean {
  return os.availableParallelism() >= 2 && ['/usr/bin/taskset', '/bin/taskset'].some(existsSync);
}

/**
 * Pins this process, every thread of it, to `cpus` (a `taskset -c` list, e.g. "0"): the processes
 * it starts afterwards (stores, server) inherit the mask. Returns what puts back the mask it had;
 * call it after those processes have ended. Threads started later inherit the main thread's mask.
 */
export function pinThisProcess(cpus: string): () => void {
  const taskset = (...args: string[]) =>
    execFileSync('taskset', [...args, String(process.pid)], { encoding: 'utf8' });
  // "pid 123's current affinity list: 0,1"
  const before = /: (\S+)\s*$/.exec(taskset('-c', '-p'))?.[1];
  if (!before) throw new Error("taskset did not report this process's CPU list");
  taskset('-a', '-c', '-p', cpus);
  return () => void taskset('-a', '-c', '-p', before);
}
