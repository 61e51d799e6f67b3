import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openParquetSource } from './byte-range.js';
import {
  ParquetReadError,
  ParquetSchemaError,
  creditHistorySchema,
  iterateRowGroups,
  loanTableSchema,
  readParquetColumns,
  zipcodeTableSchema,
  type ColumnSpec,
} from './parquet-table.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const realDir = path.resolve(repoRoot, '../shared/data/feast-credit-scoring');
const sampleDir = path.join(repoRoot, 'features/sample');
const tables = [
  ['loan_table.parquet', loanTableSchema],
  ['zipcode_table.parquet', zipcodeTableSchema],
  ['credit_history.parquet', creditHistorySchema],
] as const;

/** hyparquet's own object reader, with BigInt → number and Date → epoch ms: the oracle for ours. */
async function oracleColumns(location: string, columns: readonly ColumnSpec[]) {
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(location) });
  const out: Record<string, unknown[]> = {};
  for (const { name } of columns) {
    out[name] = rows.map((row) => {
      const value = row[name];
      if (value === null || value === undefined) return null;
      if (typeof value === 'bigint') return Number(value);
      if (value instanceof Date) return value.getTime();
      return value;
    });
  }
  return out;
}

function plain(values: ArrayLike<unknown>): unknown[] {
  return Array.from(values, (v) => (typeof v === 'number' && Number.isNaN(v) ? null : v));
}

describe.each([
  ['real public files', realDir],
  ['generated sample files', sampleDir],
])('%s', (_label, dir) => {
  const present = existsSync(path.join(dir, 'loan_table.parquet'));
  it.skipIf(!present).each(tables)(
    '%s reads with the project schema, equal to hyparquet objects',
    async (name, schema) => {
      const location = path.join(dir, name);
      const columns = await readParquetColumns(await openParquetSource(location), location, schema);
      const expected = await oracleColumns(location, schema);
      expect(Object.keys(columns)).toEqual(schema.map((c) => c.name));
      for (const spec of schema) {
        expect(columns[spec.name], spec.name).toBeInstanceOf(
          spec.type === 'string' ? Array : Float64Array,
        );
        expect(plain(columns[spec.name]), spec.name).toEqual(expected[spec.name]);
      }
    },
  );

  it.skipIf(!present)(
    'row groups cover the file in order, with epoch-ms timestamp statistics',
    async () => {
      const location = path.join(dir, 'credit_history.parquet');
      const file = await openParquetSource(location);
      const all = await readParquetColumns(file, location, creditHistorySchema);
      let next = 0;
      for await (const group of iterateRowGroups(file, location, creditHistorySchema, {
        skip: ({ rows, min, max }) => {
          const ts = all.event_timestamp.slice(next, next + rows) as Float64Array;
          expect(min.event_timestamp).toBe(Math.min(...ts));
          expect(max.event_timestamp).toBe(Math.max(...ts));
          return false;
        },
      })) {
        expect(group.rowStart).toBe(next);
        if (group.skipped) throw new Error('nothing was skipped');
        expect(plain(group.columns.dob_ssn)).toEqual(all.dob_ssn.slice(next, next + group.rows));
        next += group.rows;
      }
      expect(next).toBe(all.dob_ssn.length);
    },
  );
});

describe('bad files', () => {
  let dir: string;
  const write = async (name: string, bytes: ArrayBuffer | Uint8Array) => {
    const location = path.join(dir, name);
    await writeFile(location, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
    return location;
  };
  const open = async (location: string) => openParquetSource(location);
  const specs: ColumnSpec[] = [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'score', type: 'double' },
    { name: 'label', type: 'string' },
    { name: 'at', type: 'timestamp' },
  ];
  const goodColumns = () => [
    { name: 'id', data: [1n, 2n, 3n], type: 'INT64' as const },
    { name: 'score', data: [1.5, null, 2.5], type: 'DOUBLE' as const },
    { name: 'label', data: ['a', null, 'c'], type: 'STRING' as const },
    { name: 'at', data: [new Date(1_000), new Date(2_000), null], type: 'TIMESTAMP' as const },
  ];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'parquet-table-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads nulls as NaN / null and honours a row range', async () => {
    const location = await write('good.parquet', parquetWriteBuffer({ columnData: goodColumns() }));
    const columns = await readParquetColumns(await open(location), location, specs, {
      rowStart: 1,
      rowEnd: 3,
    });
    expect(plain(columns.id)).toEqual([2, 3]);
    expect(plain(columns.score)).toEqual([null, 2.5]);
    expect(columns.label).toEqual([null, 'c']);
    expect(plain(columns.at)).toEqual([2_000, null]);
  });

  it('names file and column for a missing column', async () => {
    const location = await write(
      'missing.parquet',
      parquetWriteBuffer({ columnData: goodColumns().slice(1) }),
    );
    const error = await readParquetColumns(await open(location), location, specs).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ParquetSchemaError);
    expect((error as ParquetSchemaError).message).toMatch(
      new RegExp(`${location}.*column "id".*missing`),
    );
  });

  it.each([
    [
      'score as string',
      'score',
      { name: 'score', data: ['1.5', null, '2'], type: 'STRING' as const },
      /expected double.*found BYTE_ARRAY/,
    ],
    [
      'id as double',
      'id',
      { name: 'id', data: [1, 2, 3], type: 'DOUBLE' as const },
      /expected int64.*found DOUBLE/,
    ],
    [
      'at as plain int64',
      'at',
      { name: 'at', data: [1n, 2n, 3n], type: 'INT64' as const },
      /expected timestamp.*found INT64/,
    ],
    [
      'label as int32',
      'label',
      { name: 'label', data: [1, 2, 3], type: 'INT32' as const },
      /expected string.*found INT32/,
    ],
  ])('names file, column and types for %s', async (_case, column, replacement, pattern) => {
    const columnData = goodColumns().map((c) => (c.name === column ? replacement : c));
    const location = await write(
      `wrong-${column}.parquet`,
      parquetWriteBuffer({ columnData: columnData as never }),
    );
    const error = await readParquetColumns(await open(location), location, specs).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ParquetSchemaError);
    expect((error as Error).message).toContain(location);
    expect((error as Error).message).toContain(`column "${column}"`);
    expect((error as Error).message).toMatch(pattern);
  });

  it('accepts INT32 where int64 or double is expected (lossless widening)', async () => {
    const columnData = goodColumns().map((c) =>
      c.name === 'id'
        ? { name: 'id', data: [7, 8, 9], type: 'INT32' as const }
        : c.name === 'score'
          ? { name: 'score', data: [1, null, 3], type: 'INT32' as const }
          : c,
    );
    const location = await write(
      'int32.parquet',
      parquetWriteBuffer({ columnData: columnData as never }),
    );
    const columns = await readParquetColumns(await open(location), location, specs);
    expect(plain(columns.id)).toEqual([7, 8, 9]);
    expect(plain(columns.score)).toEqual([1, null, 3]);
  });

  it('rejects a null in a non-nullable column, naming the column and row', async () => {
    const columnData = goodColumns().map((c) =>
      c.name === 'id' ? { ...c, data: [1n, null, 3n] } : c,
    );
    const location = await write(
      'null-id.parquet',
      parquetWriteBuffer({ columnData: columnData as never }),
    );
    await expect(readParquetColumns(await open(location), location, specs)).rejects.toThrow(
      new RegExp(`${location}: column "id": null at row 1`),
    );
  });

  it('rejects int64 values beyond Number.MAX_SAFE_INTEGER, naming the column', async () => {
    const columnData = goodColumns().map((c) =>
      c.name === 'id' ? { ...c, data: [1n, 2n ** 60n, 3n] } : c,
    );
    const location = await write(
      'huge.parquet',
      parquetWriteBuffer({ columnData: columnData as never }),
    );
    const error = await readParquetColumns(await open(location), location, specs).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ParquetReadError);
    expect((error as Error).message).toMatch(/column "id".*MAX_SAFE_INTEGER/);
  });

  it('reads an empty table as zero rows', async () => {
    const columnData = goodColumns().map((c) => ({ ...c, data: [] }));
    const location = await write(
      'empty.parquet',
      parquetWriteBuffer({ columnData: columnData as never }),
    );
    const columns = await readParquetColumns(await open(location), location, specs);
    expect(columns.id.length).toBe(0);
    const groups = [];
    for await (const group of iterateRowGroups(await open(location), location, specs))
      groups.push(group);
    expect(groups.every((g) => g.rows === 0)).toBe(true);
  });

  it.each([
    ['not Parquet at all', async () => new TextEncoder().encode('loan_id,dob_ssn\n1,x\n')],
    [
      'truncated (footer cut off)',
      async () =>
        (await readFile(path.join(sampleDir, 'zipcode_table.parquet'))).subarray(0, 300_000),
    ],
    [
      'corrupt data pages',
      async () => {
        const bytes = new Uint8Array(await readFile(path.join(sampleDir, 'zipcode_table.parquet')));
        for (let i = 4; i < 200_000; i += 7) bytes[i] ^= 0xa5;
        return bytes;
      },
    ],
  ])('names the file when it is %s', async (name, bytes) => {
    const location = await write(`${name.replace(/\W+/g, '-')}.parquet`, await bytes());
    const error = await readParquetColumns(
      await open(location),
      location,
      zipcodeTableSchema,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParquetReadError);
    expect((error as Error).message).toContain(location);
  });
});
