import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openParquetSource } from './byte-range.js';
import {
  creditHistorySchema,
  loanTableSchema,
  numericColumn,
  readParquetColumns,
  readParquetMetadata,
  stringColumn,
  zipcodeTableSchema,
} from './parquet-table.js';
import { EXAMPLE_APPLICANT, SAMPLE_FILES, writeSampleData } from './sample-data.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const sampleDir = path.join(repoRoot, 'features/sample');
const realDir = path.resolve(repoRoot, '../shared/data/feast-credit-scoring');
const schemas = {
  'loan_table.parquet': loanTableSchema,
  'zipcode_table.parquet': zipcodeTableSchema,
  'credit_history.parquet': creditHistorySchema,
} as const;

async function read(dir: string, file: keyof typeof schemas) {
  const location = path.join(dir, file);
  const source = await openParquetSource(location);
  return {
    columns: await readParquetColumns(source, location, schemas[file]),
    metadata: await readParquetMetadata(source, location),
  };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sample-data-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('generator determinism', () => {
  it('re-running with default options reproduces the committed files byte for byte', async () => {
    await writeSampleData(path.join(tmp, 'default'));
    for (const file of SAMPLE_FILES) {
      const committed = await readFile(path.join(sampleDir, file));
      const regenerated = await readFile(path.join(tmp, 'default', file));
      expect(regenerated.equals(committed), `${file} differs: run npm run sample-data`).toBe(true);
    }
  });

  it('same options give identical bytes; another seed gives other data', async () => {
    const options = { loans: 1_500, zipcodes: 1_500, rowGroupSize: 500 };
    await writeSampleData(path.join(tmp, 'a'), options);
    await writeSampleData(path.join(tmp, 'b'), options);
    await writeSampleData(path.join(tmp, 'c'), { ...options, seed: 7 });
    for (const file of SAMPLE_FILES) {
      const a = await readFile(path.join(tmp, 'a', file));
      expect(a.equals(await readFile(path.join(tmp, 'b', file))), file).toBe(true);
      expect(a.equals(await readFile(path.join(tmp, 'c', file))), file).toBe(false);
    }
    const { metadata } = await read(path.join(tmp, 'a'), 'loan_table.parquet');
    expect(Number(metadata.num_rows)).toBe(1_500);
    expect(metadata.row_groups.length).toBe(3);
  });
});

describe.skipIf(!existsSync(realDir))('schema equals the real files', () => {
  it.each(SAMPLE_FILES)('%s', async (file) => {
    const leaves = async (dir: string) =>
      (await read(dir, file)).metadata.schema
        .slice(1)
        .map(({ name, type, repetition_type, converted_type, logical_type }) => ({
          name,
          type,
          repetition_type,
          converted_type,
          logical_type,
        }));
    expect(await leaves(sampleDir)).toEqual(await leaves(realDir));
  });
});

describe('committed sample data', () => {
  it('has several row groups per file', async () => {
    for (const file of SAMPLE_FILES) {
      expect((await read(sampleDir, file)).metadata.row_groups.length, file).toBeGreaterThanOrEqual(
        3,
      );
    }
  });

  it('holds the API example applicant with fresh rows', async () => {
    const zip = (await read(sampleDir, 'zipcode_table.parquet')).columns;
    const zipRows = [...numericColumn(zip, 'zipcode').keys()].filter(
      (i) => zip.zipcode[i] === EXAMPLE_APPLICANT.zipcode,
    );
    expect(zipRows.map((i) => [zip.city[i], zip.state[i]])).toContainEqual(['FORT WORTH', 'TX']);
    const credit = (await read(sampleDir, 'credit_history.parquet')).columns;
    const dob = stringColumn(credit, 'dob_ssn');
    const times = dob.flatMap((key, i) =>
      key === EXAMPLE_APPLICANT.dob_ssn ? [credit.event_timestamp[i] as number] : [],
    );
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...times)).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1));
  });

  it('keeps feature rows in 2024 – mid-2026 and loans in 2025 – October 2026', async () => {
    const range = (values: ArrayLike<unknown>) => [
      Math.min(...(values as number[])),
      Math.max(...(values as number[])),
    ];
    for (const file of ['zipcode_table.parquet', 'credit_history.parquet'] as const) {
      const [min, max] = range((await read(sampleDir, file)).columns.event_timestamp);
      expect(min, file).toBeGreaterThanOrEqual(Date.UTC(2024, 0, 1));
      expect(max, file).toBeLessThan(Date.UTC(2026, 6, 1));
    }
    const [min, max] = range((await read(sampleDir, 'loan_table.parquet')).columns.event_timestamp);
    expect(min).toBeGreaterThanOrEqual(Date.UTC(2025, 0, 1));
    expect(max).toBeLessThan(Date.UTC(2026, 10, 1));
  });

  it('looks like the real data: default rate, nulls, oddities, point-in-time gaps', async () => {
    const loans = (await read(sampleDir, 'loan_table.parquet')).columns;
    const credit = (await read(sampleDir, 'credit_history.parquet')).columns;
    const status = numericColumn(loans, 'loan_status');
    const defaultRate = status.reduce((sum, v) => sum + v, 0) / status.length;
    expect(defaultRate).toBeGreaterThan(0.19);
    expect(defaultRate).toBeLessThan(0.24);
    const nulls = (name: string) => numericColumn(loans, name).filter(Number.isNaN).length;
    expect(nulls('person_emp_length')).toBeGreaterThan(0);
    expect(nulls('loan_int_rate')).toBeGreaterThan(0);
    expect(numericColumn(loans, 'person_age').filter((age) => age > 100).length).toBeGreaterThan(0);

    const firstCredit = new Map<string, number>();
    const snapshots = new Map<string, number>();
    stringColumn(credit, 'dob_ssn').forEach((key, i) => {
      const at = credit.event_timestamp[i] as number;
      firstCredit.set(key!, Math.min(firstCredit.get(key!) ?? Infinity, at));
      snapshots.set(key!, (snapshots.get(key!) ?? 0) + 1);
    });
    const loanKeys = stringColumn(loans, 'dob_ssn');
    expect(loanKeys.every((key) => firstCredit.has(key!))).toBe(true);
    const beforeFirstCredit = loanKeys.filter(
      (key, i) => (loans.event_timestamp[i] as number) < firstCredit.get(key!)!,
    );
    expect(beforeFirstCredit.length).toBeGreaterThan(100);
    expect([...snapshots.values()].filter((n) => n > 1).length).toBeGreaterThan(snapshots.size / 2);
  });
});
