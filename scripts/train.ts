/**
 * npm run train -- --data <dir | s3://bucket/prefix> [--out model/model.onnx] [--max-depth N]
 *                  [--min-samples-leaf N] [--seed N]
 *
 * Thin CLI over model/train: reads the three tables, trains, verifies and writes the ONNX file.
 * Only this file reads process.env / argv. S3 honours AWS_ENDPOINT_URL_S3 (s3rver, MinIO).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  createS3Client,
  parseS3Location,
  SourceReadError,
} from '../features/offline/byte-range.js';
import { ParquetReadError, ParquetSchemaError } from '../features/offline/parquet-table.js';
import { ModelContractError } from '../model/onnx.js';
import type { ClassificationMetrics } from '../model/train/metrics.js';
import { trainFromSource, type TrainResult } from '../model/train/train-pipeline.js';
import { TrainingDataError } from '../model/train/training-tables.js';
import { ArtifactMismatchError } from '../model/train/verify-artifact.js';

const USAGE = `usage: npm run train -- --data <dir | s3://bucket/prefix> [--out model/model.onnx]
       [--max-depth N] [--min-samples-leaf N] [--seed N]`;

/** Errors a user can fix: printed as one line, no stack trace. */
const EXPECTED_ERRORS = [
  ParquetSchemaError,
  ParquetReadError,
  SourceReadError,
  TrainingDataError,
  ArtifactMismatchError,
  ModelContractError,
];

class UsageError extends Error {}

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const defaultIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
};

function integerOption(
  values: Record<string, unknown>,
  name: string,
  min: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > 0xffffffff) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${String(raw)}"`);
  }
  return value;
}

/** Runs the command; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        data: { type: 'string' },
        out: { type: 'string', default: 'model/model.onnx' },
        'max-depth': { type: 'string' },
        'min-samples-leaf': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (!values.data) throw new UsageError('--data is required');
    const s3 = parseS3Location(values.data)
      ? createS3Client({
          endpoint: io.env.AWS_ENDPOINT_URL_S3 || undefined,
          region: io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || 'us-east-1',
          // Explicit keys when given; otherwise the SDK's default chain (profiles, roles).
          credentials:
            io.env.AWS_ACCESS_KEY_ID && io.env.AWS_SECRET_ACCESS_KEY
              ? {
                  accessKeyId: io.env.AWS_ACCESS_KEY_ID,
                  secretAccessKey: io.env.AWS_SECRET_ACCESS_KEY,
                  sessionToken: io.env.AWS_SESSION_TOKEN,
                }
              : undefined,
        })
      : undefined;
    const started = performance.now();
    const result = await trainFromSource({
      data: values.data,
      s3,
      seed: integerOption(values, 'seed', 0),
      maxDepth: integerOption(values, 'max-depth', 1),
      minSamplesLeaf: integerOption(values, 'min-samples-leaf', 1),
      log: io.out,
    });
    const out = path.resolve(values.out!);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, result.bytes);
    printReport(result, io.out);
    io.out(
      `wrote ${values.out} (${result.bytes.length} bytes, version ${result.version}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return 0;
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      io.err(`train: ${(error as Error).message}\n${USAGE}`);
      return 2;
    }
    if (EXPECTED_ERRORS.some((kind) => error instanceof kind)) {
      io.err(`train: ${(error as Error).message}`);
      return 1;
    }
    io.err(`train: unexpected failure (a bug): ${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}

const pct = (value: number) => (Number.isNaN(value) ? '   n/a' : value.toFixed(4));

function printReport(result: TrainResult, print: (line: string) => void): void {
  print('');
  print('validation (trained on the train split, scored on the validation split):');
  print('  max_depth  min_samples_leaf  leaves  ROC AUC  accuracy');
  for (const c of result.candidates) {
    const chosen = c === result.chosen ? '  <- chosen' : '';
    print(
      `  ${String(c.maxDepth).padStart(9)}  ${String(c.minSamplesLeaf).padStart(16)}  ${String(c.leaves).padStart(6)}  ${pct(c.validation.rocAuc)}   ${pct(c.validation.accuracy)}${chosen}`,
    );
  }
  print('');
  print(`test split (${result.test.rows} loans, ${result.test.positives} defaulted):`);
  printMetrics(result.test, print);
  print('');
}

function printMetrics(metrics: ClassificationMetrics, print: (line: string) => void): void {
  const [[tn, fp], [fn, tp]] = metrics.confusionMatrix;
  print(`  accuracy ${pct(metrics.accuracy)}   ROC AUC ${pct(metrics.rocAuc)}`);
  print('  confusion matrix (rows: actual, columns: predicted)');
  print('                 repaid  defaulted');
  print(`    repaid     ${String(tn).padStart(7)}  ${String(fp).padStart(9)}`);
  print(`    defaulted  ${String(fn).padStart(7)}  ${String(tp).padStart(9)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
