/**
 * Parquet fixtures for the materialization tests, written with hyparquet-writer in the real
 * files' schema (OPTIONAL columns, INT64, UTF8 strings, TIMESTAMP_MICROS timestamps).
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { FeatureViewDefinition } from '../../features/definitions.js';

export interface FixtureRow {
  /** zipcode number or dob_ssn string */
  readonly key: number | string;
  /** epoch ms */
  readonly eventTs: number;
  /** epoch ms; defaults to eventTs */
  readonly createdTs?: number;
  /** Feature values by name; missing ones are derived from `seed` so rows differ. */
  readonly values?: Record<string, string | number | null>;
  readonly seed?: number;
}

export const DAY = 86_400_000;

export function tempDir(prefix = 'materialize-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** The value a fixture row carries for a feature when the test does not set it. */
export function defaultValue(
  view: FeatureViewDefinition,
  feature: string,
  seed: number,
): string | number {
  const definition = view.features.find((f) => f.name === feature)!;
  return definition.type === 'string'
    ? `${feature}-${seed}`
    : seed * 10 + view.features.indexOf(definition);
}

export function viewParquetBytes(
  view: FeatureViewDefinition,
  rows: readonly FixtureRow[],
  options: { rowGroupSize?: number; overrideTypes?: Record<string, 'STRING' | 'DOUBLE'> } = {},
): Uint8Array {
  const micros = (ms: number) => BigInt(ms) * 1000n;
  const keyIsString = view.entity.valueType === 'string';
  const element = (name: string, kind: 'int64' | 'string' | 'timestamp'): SchemaElement => {
    const override = options.overrideTypes?.[name];
    if (override === 'STRING' || (!override && kind === 'string')) {
      return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' };
    }
    if (override === 'DOUBLE') return { name, type: 'DOUBLE', repetition_type: 'OPTIONAL' };
    if (kind === 'timestamp') {
      return {
        name,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MICROS',
        repetition_type: 'OPTIONAL',
      };
    }
    return { name, type: 'INT64', repetition_type: 'OPTIONAL' };
  };
  const convert = (name: string, kind: 'int64' | 'string' | 'timestamp', value: unknown) => {
    if (value === null || value === undefined) return null;
    const override = options.overrideTypes?.[name];
    if (override === 'STRING' || (!override && kind === 'string')) return String(value);
    if (override === 'DOUBLE') return Number(value);
    return BigInt(value as number);
  };
  const columns: {
    name: string;
    kind: 'int64' | 'string' | 'timestamp';
    get: (r: FixtureRow, i: number) => unknown;
  }[] = [
    { name: view.entity.name, kind: keyIsString ? 'string' : 'int64', get: (r) => r.key },
    ...view.features.map((f) => ({
      name: f.name,
      kind: f.type,
      get: (r: FixtureRow, i: number) =>
        r.values && f.name in r.values ? r.values[f.name] : defaultValue(view, f.name, r.seed ?? i),
    })),
    { name: 'event_timestamp', kind: 'timestamp' as const, get: (r) => micros(r.eventTs) },
    {
      name: 'created_timestamp',
      kind: 'timestamp' as const,
      get: (r) => micros(r.createdTs ?? r.eventTs),
    },
  ];
  const schema: SchemaElement[] = [
    { name: 'schema', num_children: columns.length },
    ...columns.map((c) => element(c.name, c.kind)),
  ];
  const buffer = parquetWriteBuffer({
    schema,
    columnData: columns.map((c) => ({
      name: c.name,
      data: rows.map((r, i) =>
        c.kind === 'timestamp' ? (c.get(r, i) as bigint) : convert(c.name, c.kind, c.get(r, i)),
      ),
    })),
    rowGroupSize: options.rowGroupSize ?? 100_000,
  });
  return new Uint8Array(buffer);
}

export async function writeViewParquet(
  file: string,
  view: FeatureViewDefinition,
  rows: readonly FixtureRow[],
  options?: Parameters<typeof viewParquetBytes>[2],
): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, viewParquetBytes(view, rows, options));
  return file;
}

/** `count` credit-history rows with keys `19800101_0000`… and the given timestamp. */
export function creditRows(count: number, eventTs: number, seedOffset = 0): FixtureRow[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `19800101_${String(i).padStart(4, '0')}`,
    eventTs,
    seed: i + seedOffset,
  }));
}

export function zipcodeRows(count: number, eventTs: number, seedOffset = 0): FixtureRow[] {
  return Array.from({ length: count }, (_, i) => ({
    key: 10_000 + i,
    eventTs,
    seed: i + seedOffset,
  }));
}
