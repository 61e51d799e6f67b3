import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSampleTables,
  sampleTableToParquet,
  type SampleTable,
} from '../features/offline/sample-data.js';
import { loadModel } from '../model/model.js';
import { OnnxRuntimeModel } from '../model/onnxruntime.js';
import { predictProbabilities } from '../model/train/cart.js';
import { encodeFeatureColumns, toRowMajor } from '../model/train/feature-matrix.js';
import { trainFromSource } from '../model/train/train-pipeline.js';
import { startS3rver, uploadFiles } from '../test/harness/s3rver.js';
import { main, type CliIo } from './train.js';

const tables = generateSampleTables({ loans: 500, zipcodes: 120, seed: 11 });
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'train-cli-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function writeTables(
  name: string,
  change: (table: SampleTable) => SampleTable | Uint8Array = (t) => t,
): Promise<string> {
  const dir = path.join(workDir, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  for (const table of tables) {
    const changed = change(table);
    const bytes =
      changed instanceof Uint8Array ? changed : new Uint8Array(sampleTableToParquet(changed));
    await writeFile(path.join(dir, table.file), bytes);
  }
  return dir;
}

async function run(argv: string[], env: CliIo['env'] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (line) => out.push(line), err: (line) => err.push(line), env };
  const code = await main(argv, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('npm run train (scripts/train.ts)', () => {
  it('trains on generated data and writes an artifact both runtimes reproduce', async () => {
    const data = await writeTables('good');
    const outFile = path.join(workDir, 'out', 'model.onnx');
    const { code, stdout, stderr } = await run(['--data', data, '--out', outFile, '--seed', '3']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/kept \d+ of 500 loans/);
    expect(stdout).toMatch(/<- chosen/);
    expect(stdout).toMatch(/test split .*\n\s+accuracy [\d.]+\s+ROC AUC [\d.]+/);
    const bytes = new Uint8Array(await readFile(outFile));

    // Same data + seed → the same bytes: the in-process trainer is the reference for the file.
    const result = await trainFromSource({ data, seed: 3 });
    expect(Buffer.from(result.bytes).equals(Buffer.from(bytes))).toBe(true);

    const model = await loadModel(bytes);
    expect(model.artifact.featureNames).toEqual(result.set.featureNames);
    expect(model.artifact.featureNames).toEqual([...result.set.featureNames].sort());
    expect(model.artifact.categoricalEncodings).toEqual(result.encodings);
    expect(Object.keys(result.encodings).sort()).toEqual([
      'city',
      'loan_intent',
      'location_type',
      'person_home_ownership',
      'state',
    ]);
    expect(model.artifact.version).toBe(result.version);
    const metrics = JSON.parse(model.artifact.metadata.metrics);
    expect(metrics.test.rocAuc).toBe(result.test.rocAuc);
    expect(JSON.parse(model.artifact.metadata.training_data_range).start).toMatch(/^\d{4}-/);

    // Every kept loan (train, validation and test: unseen categories and NaN included).
    const rows = Int32Array.from({ length: result.set.labels.length }, (_, i) => i);
    const columns = encodeFeatureColumns(result.set, rows, result.encodings);
    const expected = predictProbabilities(result.tree, columns);
    const ort = await OnnxRuntimeModel.create(bytes);
    const ortOutput = await ort.predict(toRowMajor(columns), rows.length);
    await ort.release();
    for (let i = 0; i < rows.length; i++) {
      const vector = Float32Array.from(columns, (column) => column[i]);
      const raw = Object.fromEntries(
        result.set.featureNames.map((name, f) => {
          const value = result.set.columns[name][i];
          return [name, value === null || Number.isNaN(value) ? null : value];
        }),
      );
      const compiled = model.predict(raw);
      expect(compiled.vector).toEqual(vector);
      const label = expected[i] > 0.5 ? 1 : 0;
      expect(compiled.prediction.label).toBe(label);
      expect(Number(ortOutput.labels[i])).toBe(label);
      expect(compiled.prediction.probabilities[1]).toBe(Math.fround(expected[i]));
      expect(ortOutput.probabilities[2 * i + 1]).toBe(Math.fround(expected[i]));
    }
  });

  it('reads the same tables from s3:// (AWS_ENDPOINT_URL_S3) and writes the same model', async () => {
    const data = await writeTables('for-s3');
    const s3rver = await startS3rver();
    try {
      await uploadFiles(
        s3rver.client(),
        'training',
        Object.fromEntries(tables.map((t) => [`credit/${t.file}`, path.join(data, t.file)])),
      );
      const fromS3 = path.join(workDir, 's3.onnx');
      const fromDisk = path.join(workDir, 'disk.onnx');
      const env = {
        AWS_ENDPOINT_URL_S3: s3rver.endpoint,
        AWS_REGION: s3rver.region,
        AWS_ACCESS_KEY_ID: s3rver.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3rver.credentials.secretAccessKey,
      };
      const args = ['--max-depth', '4', '--min-samples-leaf', '5'];
      const s3Run = await run(['--data', 's3://training/credit', '--out', fromS3, ...args], env);
      expect(s3Run.stderr).toBe('');
      expect(s3Run.code).toBe(0);
      expect((await run(['--data', data, '--out', fromDisk, ...args])).code).toBe(0);
      expect((await readFile(fromS3)).equals(await readFile(fromDisk))).toBe(true);
    } finally {
      await s3rver.stop();
    }
  });

  const withoutColumn = (file: string, column: string) => (table: SampleTable) =>
    table.file === file
      ? { ...table, schema: table.schema.filter((spec) => spec.name !== column) }
      : table;

  it.each([
    [
      'a missing column',
      'missing',
      withoutColumn('loan_table.parquet', 'loan_int_rate'),
      /loan_table\.parquet: column "loan_int_rate": missing/,
    ],
    [
      'a wrong column type',
      'wrong-type',
      (table: SampleTable) =>
        table.file === 'credit_history.parquet'
          ? {
              ...table,
              schema: table.schema.map((spec) =>
                spec.name === 'hard_pulls' ? { ...spec, type: 'string' as const } : spec,
              ),
              rows: table.rows.map((row) => ({ ...row, hard_pulls: String(row.hard_pulls) })),
            }
          : table,
      /credit_history\.parquet: column "hard_pulls": expected int64/,
    ],
    [
      'an empty table',
      'empty',
      (table: SampleTable) =>
        table.file === 'zipcode_table.parquet' ? { ...table, rows: [] } : table,
      /zipcode_table\.parquet: the table has no rows/,
    ],
    [
      'corrupt Parquet',
      'corrupt',
      (table: SampleTable) =>
        table.file === 'loan_table.parquet'
          ? new Uint8Array(sampleTableToParquet(table)).subarray(0, 2000)
          : table,
      /loan_table\.parquet: .*(not a readable Parquet file|corrupt)/,
    ],
    [
      'a label that is not 0/1',
      'bad-label',
      (table: SampleTable) =>
        table.file === 'loan_table.parquet'
          ? {
              ...table,
              rows: table.rows.map((row, i) => (i === 7 ? { ...row, loan_status: 2 } : row)),
            }
          : table,
      /loan_table\.parquet: column "loan_status": row 7 holds 2/,
    ],
  ])(
    'fails on %s with a message naming the file and column',
    async (_what, name, change, message) => {
      const data = await writeTables(name, change);
      const outFile = path.join(workDir, name, 'model.onnx');
      const { code, stderr } = await run(['--data', data, '--out', outFile]);
      expect(code).toBe(1);
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
      await expect(readFile(outFile)).rejects.toThrow(/ENOENT/);
    },
  );

  it('fails on a missing table and on bad arguments', async () => {
    const missing = await run(['--data', path.join(workDir, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere.*(loan_table|zipcode_table|credit_history)\.parquet/);
    const noData = await run([]);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/--data is required/);
    const badDepth = await run(['--data', workDir, '--max-depth', '0']);
    expect(badDepth.code).toBe(2);
    expect(badDepth.stderr).toMatch(/--max-depth must be an integer >= 1/);
    const unknown = await run(['--data', workDir, '--depth', '3']);
    expect(unknown.code).toBe(2);
  });
});
