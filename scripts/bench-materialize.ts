/**
 * Materialization benchmark: `npx tsx scripts/bench-materialize.ts [--rows 1000000,10000000]
 * [--dynamodb-rows 100000] [--parallel 2] [--heap-mb 128] [--dir /tmp/bench-materialize]`
 *
 * Generates credit_history Parquet files of N entity rows (streamed to disk, 100k-row row groups,
 * never N rows in memory), then materializes each into a fresh local redis-server and into
 * dynalite, each run in a child process of its own so that its peak RSS is its own. Prints one
 * JSON line per run (rows/s, peak RSS) and a table. dynalite (LevelDB in JS) is far slower than
 * DynamoDB, so it gets a smaller count (--dynamodb-rows).
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
    // V8 grows its heap lazily far past the live set (~30-45 MB here); a cap keeps RSS bounded.
    'heap-mb': { type: 'string', default: '128' },
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
    const redis = new RedisTcpStore({ url: args.url! });
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
  const redisServerMicrosPerRow =
    args.store === 'redis'
      ? (await redisCommandMicros(args.url!)) / summary.rowsScanned
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
      redisServerMicrosPerRow: redisServerMicrosPerRow?.toFixed(1),
    })}\n`,
  );
}

/** Time redis-server spent executing commands (INFO commandstats), to tell server from client cost. */
async function redisCommandMicros(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  const info = await client.info('commandstats');
  await client.close();
  let micros = 0;
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)) {
    if (match[1] !== 'info') micros += Number(match[2]);
  }
  return micros;
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
    const heap = Number(args['heap-mb']) > 0 ? [`--max-old-space-size=${args['heap-mb']}`] : [];
    const run = await runChild([
      ...heap,
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
