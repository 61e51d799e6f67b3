/**
 * Materialization benchmark: `npx tsx scripts/bench-materialize.ts [--rows 1000000,10000000]
 * [--dynamodb-rows 100000] [--parallel 2] [--heap-mb 128] [--semi-space-mb 0]
 * [--records-per-script N] [--write-concurrency N] [--cpu-prof-dir DIR] [--dir /tmp/bench-materialize]`
 *
 * Generates credit_history Parquet files of N entity rows (streamed to disk, 100k-row row groups,
 * never N rows in memory), then materializes each into a fresh local redis-server and into
 * dynalite, each run in a child process of its own so that its peak RSS is its own. Prints one
 * JSON line per run and a table. dynalite (LevelDB in JS) is far slower than DynamoDB, so it gets
 * a smaller count (--dynamodb-rows).
 *
 * Each line says where the time went, because on a 2-core machine the client (Parquet decoding,
 * dedupe, encoding) and redis-server compete for the same cores: `clientCpuMicrosPerRow`,
 * `redisServer.cpuMicrosPerRow` (INFO cpu) and per-command `usecPerCall` (INFO commandstats),
 * `memoryPeaksMb` (V8 heap vs Buffers) and the load average, as the machine may be shared.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createClient } from 'redis';
import type { SchemaElement } from 'hyparquet';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { creditHistory } from '../features/definitions.js';
import { FileWatermarkStore } from '../features/materialize/file-watermark-store.js';
import { materializeIncremental } from '../features/materialize/materialize-incremental.js';
import { parquetSourceReader } from '../features/materialize/parquet-source.js';
import { DynamoDbStore, createDynamoDbTable } from '../features/online/dynamodb.js';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import type { OnlineStore } from '../features/online/types.js';
import { startDynalite } from '../test/harness/dynalite.js';
import { startRedisServer } from '../test/harness/redis-server.js';

const ROW_GROUP = 100_000;
const END = Date.parse('2026-11-01T00:00:00Z');

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000,10000000' },
    'dynamodb-rows': { type: 'string', default: '100000' },
    parallel: { type: 'string', default: '2' },
    dir: { type: 'string', default: '/tmp/bench-materialize' },
    // V8 grows its heap lazily far past the live set: uncapped, heapUsed peaked at ~290 MB (RSS
    // ~470 MB) for a live set near 100 MB. The cap keeps RSS ~250 MB; GC then costs ~1 µs a row.
    'heap-mb': { type: 'string', default: '128' },
    // V8's young generation (--max-semi-space-size), MB; 0 leaves V8's default (16).
    'semi-space-mb': { type: 'string', default: '0' },
    // Store tuning, to compare settings (defaults: the stores' own).
    'records-per-script': { type: 'string' },
    'write-concurrency': { type: 'string' },
    // Writes a V8 CPU profile of each run's process into this folder (node --cpu-prof).
    'cpu-prof-dir': { type: 'string' },
    // child mode
    run: { type: 'string' },
    store: { type: 'string' },
    url: { type: 'string' },
  },
});

/** Peak resident set of this process, MB (VmHWM, the kernel's high-water mark). */
async function peakRssMb(): Promise<number> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    if (kb) return Math.round(kb / 1024);
  } catch {
    // not Linux
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Writes `rows` credit-history rows, one row group at a time, straight to the file. */
async function generate(file: string, rows: number): Promise<void> {
  const int64 = (name: string): SchemaElement => ({
    name,
    type: 'INT64',
    repetition_type: 'OPTIONAL',
  });
  const timestamp = (name: string): SchemaElement => ({
    name,
    type: 'INT64',
    converted_type: 'TIMESTAMP_MICROS',
    repetition_type: 'OPTIONAL',
  });
  const schema: SchemaElement[] = [
    { name: 'schema', num_children: creditHistory.features.length + 3 },
    { name: 'dob_ssn', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ...creditHistory.features.map((f) => int64(f.name)),
    timestamp('event_timestamp'),
    timestamp('created_timestamp'),
  ];
  const writer = new ParquetWriter({ writer: fileWriter(file), schema });
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let offset = 0; offset < rows; offset += ROW_GROUP) {
    const n = Math.min(ROW_GROUP, rows - offset);
    const keys = new Array<string>(n);
    const features = creditHistory.features.map(() => new BigInt64Array(n));
    const events = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const id = offset + i;
      const year = 1940 + (id % 60);
      // YYYYMMDD_ then the row id: unique keys shaped like the real ones.
      keys[i] =
        `${year}${String(1 + (id % 12)).padStart(2, '0')}${String(1 + (id % 28)).padStart(2, '0')}_${String(id).padStart(4, '0')}`;
      for (const column of features) column[i] = BigInt(Math.floor(random() * 100_000));
      events[i] = BigInt(END - Math.floor(random() * 365) * 86_400_000) * 1000n;
    }
    await writer.write({
      columnData: [
        { name: 'dob_ssn', data: keys },
        ...creditHistory.features.map((f, j) => ({ name: f.name, data: features[j] })),
        { name: 'event_timestamp', data: events },
        { name: 'created_timestamp', data: events },
      ],
      rowGroupSize: ROW_GROUP,
    });
  }
  await writer.finish();
}

async function child(): Promise<void> {
  const dir = args.run!;
  let store: OnlineStore | undefined;
  let close: () => Promise<void> = async () => {};
  if (args.store === 'none') {
    // Read + latest-per-entity only: the cost of the Parquet side, for the breakdown.
  } else if (args.store === 'redis') {
    const redis = new RedisTcpStore({
      url: args.url!,
      recordsPerScript: optionalNumber(args['records-per-script']),
      writeConcurrency: optionalNumber(args['write-concurrency']),
    });
    store = redis;
    close = () => redis.close();
  } else {
    const client = new DynamoDBClient({
      endpoint: args.url!,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const table = `bench${Date.now()}`;
    await createDynamoDbTable(client, table);
    store = new DynamoDbStore({ tableName: table, client });
    close = async () => client.destroy();
  }
  const stateFile = path.join(os.tmpdir(), `bench-materialize-state-${process.pid}.json`);
  const redisBefore = args.store === 'redis' ? await redisServerStats(args.url!) : undefined;
  const loadAverageStart = loadAverage();
  const memory = sampleMemory();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const summary = await materializeIncremental(
    {
      source: dir,
      reader: parquetSourceReader(),
      stores: store ? [store] : [],
      watermarks: new FileWatermarkStore(stateFile),
      maxRowsPerUnit: 500_000,
    },
    { end: END, views: ['credit_history'], parallel: Number(args.parallel) },
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const memoryPeaks = memory.stop();
  const rows = summary.rowsScanned;
  const redisServer = redisBefore
    ? describeRedisServer(redisBefore, await redisServerStats(args.url!), rows)
    : undefined;
  await close();
  await rm(stateFile, { force: true });
  process.stdout.write(
    `${JSON.stringify({
      store: args.store,
      rows: summary.rowsScanned,
      written: store ? summary.stores[store.name] : null,
      seconds: Number(seconds.toFixed(2)),
      rowsPerSecond: Math.round(summary.rowsScanned / seconds),
      peakRssMb: await peakRssMb(),
      parallel: Number(args.parallel),
      heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
      // Where the resident memory is (peaks sampled every 50 ms): V8 heap vs Buffers.
      memoryPeaksMb: memoryPeaks,
      clientCpuMicrosPerRow: round1((cpu.user + cpu.system) / rows),
      redisServer,
      // The machine is shared: figures are only comparable at similar load.
      loadAverage: { start: loadAverageStart, end: loadAverage() },
    })}\n`,
  );
}

/** Peaks of process.memoryUsage(), MB, sampled every 50 ms until stop(). */
function sampleMemory() {
  const peaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    for (const name of Object.keys(peaks) as (keyof typeof peaks)[]) {
      peaks[name] = Math.max(peaks[name], Math.round(usage[name] / 2 ** 20));
    }
  };
  const timer = setInterval(sample, 50);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

interface RedisServerStats {
  /** used_cpu_user + used_cpu_sys of redis-server, seconds. */
  readonly cpuSeconds: number;
  /** INFO commandstats: command → calls and total µs. */
  readonly commands: Record<string, { calls: number; usec: number }>;
}

/**
 * redis-server's own CPU time and per-command times. CPU time is what bounds throughput (the
 * server is single-threaded); commandstats tells which command spends it. Commands a script calls
 * are counted both on their own line and inside the EVALSHA line, so they must not be summed.
 */
async function redisServerStats(url: string): Promise<RedisServerStats> {
  const client = createClient({ url });
  await client.connect();
  const cpu = await client.info('cpu');
  const stats = await client.info('commandstats');
  await client.close();
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1]);
  const commands: RedisServerStats['commands'] = {};
  for (const match of stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/gm)) {
    commands[match[1]] = { calls: Number(match[2]), usec: Number(match[3]) };
  }
  return { cpuSeconds: seconds('used_cpu_user') + seconds('used_cpu_sys'), commands };
}

function describeRedisServer(before: RedisServerStats, after: RedisServerStats, rows: number) {
  const perCommand: Record<string, { calls: number; usecPerCall: number; usecPerRow: number }> = {};
  for (const [name, { calls, usec }] of Object.entries(after.commands)) {
    const earlier = before.commands[name] ?? { calls: 0, usec: 0 };
    const n = calls - earlier.calls;
    if (n <= 0 || name === 'info') continue;
    const total = usec - earlier.usec;
    perCommand[name] = {
      calls: n,
      usecPerCall: round1(total / n),
      usecPerRow: round1(total / rows),
    };
  }
  return {
    cpuMicrosPerRow: round1(((after.cpuSeconds - before.cpuSeconds) * 1e6) / rows),
    commands: perCommand,
  };
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function runChild(argv: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout }));
  });
}

async function main(): Promise<void> {
  const counts = args.rows!.split(',').map(Number);
  const dynamoRows = Number(args['dynamodb-rows']);
  const plan = [
    ...counts.map((rows) => ({ rows, store: 'redis' })),
    ...(dynamoRows > 0 ? [{ rows: dynamoRows, store: 'dynamodb' }] : []),
  ];
  const results: Record<string, unknown>[] = [];
  for (const { rows, store } of plan) {
    const dir = path.join(args.dir!, String(rows));
    const file = path.join(dir, 'credit_history.parquet');
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const started = performance.now();
      await generate(file, rows);
      const mb = (statSync(file).size / 1e6).toFixed(1);
      process.stderr.write(
        `generated ${rows} rows (${mb} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
    const server = store === 'redis' ? await startRedisServer() : await startDynalite();
    const url = 'url' in server ? server.url : server.endpoint;
    // Asynchronous: dynalite runs in this process and must keep answering while the child runs.
    const heap = [
      ...(Number(args['heap-mb']) > 0 ? [`--max-old-space-size=${args['heap-mb']}`] : []),
      ...(Number(args['semi-space-mb']) > 0
        ? [`--max-semi-space-size=${args['semi-space-mb']}`]
        : []),
    ];
    const profile = args['cpu-prof-dir']
      ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof-dir']}`]
      : [];
    const tuning = (['records-per-script', 'write-concurrency'] as const).flatMap((name) =>
      args[name] === undefined ? [] : [`--${name}`, args[name]!],
    );
    const run = await runChild([
      ...heap,
      ...profile,
      '--import',
      'tsx',
      import.meta.filename,
      '--run',
      dir,
      '--store',
      store,
      '--url',
      url,
      '--parallel',
      args.parallel!,
      ...tuning,
    ]);
    await server.stop();
    if (run.code !== 0) throw new Error(`bench run ${store} ${rows} failed (exit ${run.code})`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  console.table(
    results.map(({ store, rows, seconds, rowsPerSecond, peakRssMb }) => ({
      store,
      rows,
      seconds,
      rowsPerSecond,
      peakRssMb,
    })),
  );
}

await (args.run ? child() : main());
