/**
 * `npm run materialize -- --source <dir or s3://bucket/prefix> [--end <ISO time>] [--start <ISO time>]
 *   [--views zipcode_features,credit_history] [--parallel N] [--state-file <path>]`
 *
 * Feast's materialize-incremental into every configured online store (REDIS_URL,
 * UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN, DYNAMODB_TABLE). A progress bar on a terminal
 * (stderr); the last stdout line is the JSON summary. Exit codes: 0 done, 1 the run failed (the
 * watermark did not move), 2 bad arguments or no store configured.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import cliProgress from 'cli-progress';
import {
  createMaterializeDeps,
  materializeConfigFromEnv,
  type OwnedDeps,
} from '../features/materialize/deps.js';
import { MaterializationError } from '../features/materialize/errors.js';
import {
  MaterializationRunError,
  materializeIncremental,
} from '../features/materialize/materialize-incremental.js';
import { createS3Client } from '../features/offline/byte-range.js';

const USAGE =
  'usage: npm run materialize -- --source <dir or s3://bucket/prefix> [--end <ISO time>] [--start <ISO time>] [--views a,b] [--parallel N] [--state-file <path>]';

function fail(message: string, code: number, name = 'UsageError'): never {
  process.stderr.write(`${message}\n`);
  process.stdout.write(`${JSON.stringify({ ok: false, error: { name, message } })}\n`);
  process.exit(code);
}

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time))
    fail(`--${name} "${value}" is not an ISO time (e.g. 2026-11-22T00:00:00Z)\n${USAGE}`, 2);
  return time;
}

let args;
try {
  args = parseArgs({
    options: {
      source: { type: 'string' },
      end: { type: 'string' },
      start: { type: 'string' },
      views: { type: 'string' },
      parallel: { type: 'string', default: '1' },
      'state-file': { type: 'string' },
      help: { type: 'boolean' },
    },
  }).values;
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!args.source) fail(`--source is required\n${USAGE}`, 2);
const parallel = Number(args.parallel);
if (!Number.isInteger(parallel) || parallel < 1) fail(`--parallel must be a positive integer`, 2);
const end = parseTime('end', args.end) ?? Date.now();
const start = parseTime('start', args.start);
const views = args.views
  ?.split(',')
  .map((v) => v.trim())
  .filter(Boolean);

let deps: OwnedDeps;
try {
  const config = materializeConfigFromEnv(process.env);
  deps = await createMaterializeDeps(
    args.source,
    args['state-file'] ? { ...config, stateFile: args['state-file'] } : config,
    {
      s3: args.source.startsWith('s3://')
        ? createS3Client({
            endpoint: process.env.AWS_ENDPOINT_URL_S3,
            region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
          })
        : undefined,
      dynamodb: config.dynamodbTable
        ? new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB })
        : undefined,
    },
  );
} catch (error) {
  const e = error as Error;
  fail(`materialize: ${e.message}`, error instanceof MaterializationError ? 2 : 1, e.name);
}

const bar = process.stderr.isTTY
  ? new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'materialize [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted}',
      },
      cliProgress.Presets.shades_classic,
    )
  : undefined;
const runDeps = bar
  ? {
      ...deps,
      onProgress: ({ rowsScanned }: { rowsScanned: number }) => bar.increment(rowsScanned),
    }
  : deps;

let exitCode = 0;
try {
  const summary = await materializeIncremental(runDeps, {
    end,
    start,
    views,
    parallel,
    onPlan: (plan) =>
      bar?.start(
        plan.units.reduce((n, u) => n + u.rows, 0),
        0,
      ),
  });
  bar?.stop();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} catch (error) {
  bar?.stop();
  if (error instanceof MaterializationRunError) {
    process.stderr.write(`materialize failed: ${error.message}\n`);
    process.stdout.write(`${JSON.stringify(error.summary)}\n`);
    exitCode = 1;
  } else {
    process.stderr.write(`materialize failed: ${(error as Error).stack ?? String(error)}\n`);
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: { name: (error as Error).name, message: (error as Error).message } })}\n`,
    );
    exitCode = error instanceof MaterializationError ? 2 : 1;
  }
} finally {
  await deps.close();
}
process.exit(exitCode);
