import {
  parquetMetadata,
  parquetReadObjects,
  type AsyncBuffer,
  type SchemaElement,
} from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  ParquetReadError,
  ParquetSchemaError,
  iterateRowGroups,
  readParquetColumns,
  type ColumnSpec,
} from './parquet-table.js';
import { SeededRandom } from './seeded-random.js';

/**
 * parquet-numeric.ts decodes numeric columns itself (no BigInt per value); hyparquet's own row
 * reader is the oracle. Files cover every page encoding hyparquet-writer writes for numbers,
 * several pages and row groups per column, nulls, negative and 2^53-edge values, and row ranges
 * that cut row groups. (The real public files, written by pyarrow with v1 data pages, are compared
 * the same way in parquet-table.test.ts when present.)
 */

const ROWS = 4_000;
const MAX = Number.MAX_SAFE_INTEGER;

function asyncBuffer(bytes: ArrayBuffer): AsyncBuffer {
  return { byteLength: bytes.byteLength, slice: (start, end) => bytes.slice(start, end) };
}

/** Our timestamp rule (floor to ms), so the oracle differs from us only in how it decodes. */
const parsers = {
  timestampFromMilliseconds: (millis: bigint) => Number(millis),
  timestampFromMicroseconds: (micros: bigint) => Math.floor(Number(micros) / 1_000),
};

async function oracle(bytes: ArrayBuffer, names: readonly string[]) {
  const rows = await parquetReadObjects({ file: asyncBuffer(bytes), parsers });
  const out: Record<string, (number | null)[]> = {};
  for (const name of names) {
    out[name] = rows.map((row) => {
      const value = row[name] as unknown;
      if (value === null || value === undefined) return null;
      if (typeof value === 'bigint') return Number(value);
      return value as number;
    });
  }
  return out;
}

const plain = (values: ArrayLike<unknown>) =>
  Array.from(values, (v) => (typeof v === 'number' && Number.isNaN(v) ? null : v));

const optional = (name: string, type: SchemaElement['type'], extra: Partial<SchemaElement> = {}) =>
  ({ name, type, repetition_type: 'OPTIONAL', ...extra }) as SchemaElement;

/** Columns of every numeric kind the fast path takes, each under one page encoding. */
function numericFile(
  encoding: 'PLAIN' | 'RLE_DICTIONARY' | 'DELTA_BINARY_PACKED' | 'BYTE_STREAM_SPLIT',
) {
  const seeds = { PLAIN: 1, RLE_DICTIONARY: 2, DELTA_BINARY_PACKED: 3, BYTE_STREAM_SPLIT: 4 };
  const generator = new SeededRandom(seeds[encoding]);
  const random = () => generator.next();
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
  // A few distinct values when the encoding is a dictionary, so the writer keeps it.
  const edge = [0, 1, -1, 42, MAX, -MAX, 2 ** 32, -(2 ** 32), 2 ** 31 - 1, -(2 ** 31)];
  const int64 = (nulls: boolean) =>
    Array.from({ length: ROWS }, () =>
      nulls && random() < 0.1
        ? null
        : BigInt(
            encoding === 'RLE_DICTIONARY' || random() < 0.2
              ? pick(edge)
              : Math.floor((random() - 0.5) * 2 ** 40),
          ),
    );
  const timestamps = (scale: bigint) =>
    Array.from({ length: ROWS }, (_, i) =>
      i % 13 === 5
        ? null
        : BigInt(
            1_600_000_000_000 + Math.floor((encoding === 'RLE_DICTIONARY' ? i % 7 : i) * 1_234.5),
          ) *
            scale +
          BigInt(i % 1_000),
    );
  const int32 = Array.from({ length: ROWS }, () =>
    random() < 0.1 ? null : pick([0, -7, 2 ** 31 - 1, -(2 ** 31), Math.floor(random() * 1000)]),
  );
  const doubles = Array.from({ length: ROWS }, () =>
    random() < 0.1
      ? null
      : encoding === 'RLE_DICTIONARY'
        ? pick([0.5, -2.25, 1e300])
        : (random() - 0.5) * 1e6,
  );
  const int64Encoding = encoding === 'BYTE_STREAM_SPLIT' ? 'PLAIN' : encoding;
  const doubleEncoding = encoding === 'DELTA_BINARY_PACKED' ? 'PLAIN' : encoding;
  const columns = [
    { name: 'a', data: int64(true), schema: optional('a', 'INT64'), encoding: int64Encoding },
    {
      name: 'b',
      data: int64(false),
      schema: { name: 'b', type: 'INT64', repetition_type: 'REQUIRED' } as SchemaElement,
      encoding: int64Encoding,
    },
    {
      name: 'micros',
      data: timestamps(1000n),
      schema: optional('micros', 'INT64', { converted_type: 'TIMESTAMP_MICROS' }),
      encoding: int64Encoding,
    },
    {
      name: 'millis',
      data: timestamps(1n),
      schema: optional('millis', 'INT64', { converted_type: 'TIMESTAMP_MILLIS' }),
      encoding: int64Encoding,
    },
    { name: 'i32', data: int32, schema: optional('i32', 'INT32'), encoding: int64Encoding },
    { name: 'd', data: doubles, schema: optional('d', 'DOUBLE'), encoding: doubleEncoding },
  ];
  const buffer = parquetWriteBuffer({
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map((c) => c.schema)],
    columnData: columns.map(({ name, data, encoding }) => ({ name, data, encoding }) as never),
    rowGroupSize: 1_500,
    pageSize: 2_048,
  });
  const specs: ColumnSpec[] = [
    { name: 'a', type: 'int64' },
    { name: 'b', type: 'int64', nullable: false },
    { name: 'micros', type: 'timestamp' },
    { name: 'millis', type: 'timestamp' },
    { name: 'i32', type: 'int64' },
    { name: 'd', type: 'double' },
  ];
  const encodings = Object.fromEntries(columns.map((c) => [c.name, c.encoding]));
  return { bytes: buffer, specs, encodings };
}

describe.each(['PLAIN', 'RLE_DICTIONARY', 'DELTA_BINARY_PACKED', 'BYTE_STREAM_SPLIT'] as const)(
  'numeric columns, %s pages',
  (encoding) => {
    const { bytes, specs, encodings } = numericFile(encoding);
    const names = specs.map((s) => s.name);

    it('the file has the encoding and several data pages per column chunk', () => {
      for (const group of parquetMetadata(bytes).row_groups) {
        for (const chunk of group.columns) {
          const meta = chunk.meta_data!;
          const pages = meta.encoding_stats!.filter((s) => s.page_type.startsWith('DATA_PAGE'));
          expect(pages.map((p) => p.encoding)).toEqual([encodings[meta.path_in_schema[0]]]);
          expect(pages[0].count).toBeGreaterThan(1);
        }
      }
    });

    it('read equal to hyparquet, whole file and row ranges that cut row groups', async () => {
      const expected = await oracle(bytes, names);
      const file = asyncBuffer(bytes);
      for (const [rowStart, rowEnd] of [
        [0, ROWS],
        [700, 3_100],
        [1_499, 1_501],
        [3_999, 4_000],
      ]) {
        const columns = await readParquetColumns(file, 'x.parquet', specs, { rowStart, rowEnd });
        for (const name of names) {
          expect(columns[name], name).toBeInstanceOf(Float64Array);
          expect(plain(columns[name]), `${name} [${rowStart}, ${rowEnd})`).toEqual(
            expected[name].slice(rowStart, rowEnd),
          );
        }
      }
    });

    it('iterates row groups equal to hyparquet', async () => {
      const expected = await oracle(bytes, names);
      const seen: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
      let groups = 0;
      for await (const group of iterateRowGroups(asyncBuffer(bytes), 'x.parquet', specs)) {
        if (group.skipped) throw new Error('nothing was skipped');
        groups++;
        for (const name of names) seen[name].push(...plain(group.columns[name]));
      }
      expect(groups).toBe(3);
      for (const name of names) expect(seen[name], name).toEqual(expected[name]);
    });
  },
);

describe('values the fast path must refuse', () => {
  const write = (data: (bigint | null)[], encoding: 'PLAIN' | 'RLE_DICTIONARY', nullable = true) =>
    parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'id', type: 'INT64', repetition_type: nullable ? 'OPTIONAL' : 'REQUIRED' },
      ],
      columnData: [{ name: 'id', data, encoding } as never],
      rowGroupSize: 100,
    });

  it.each([
    ['PLAIN', 2n ** 53n],
    ['PLAIN', -(2n ** 53n)],
    ['RLE_DICTIONARY', 2n ** 60n],
    ['RLE_DICTIONARY', -(2n ** 53n) - 5n],
  ] as const)(
    'an int64 beyond ±(2^53 - 1) fails naming column and row (%s, %s), but only when read',
    async (encoding, beyond) => {
      const edges = [0n, 2n ** 53n - 1n, -(2n ** 53n - 1n), -(2n ** 32n) - 3n];
      const data = Array.from({ length: 200 }, (_, i): bigint | null =>
        i === 150 ? beyond : edges[i % 4],
      );
      data[10] = null;
      const file = asyncBuffer(write(data, encoding));
      const specs: ColumnSpec[] = [{ name: 'id', type: 'int64' }];
      const error = await readParquetColumns(file, 'big.parquet', specs).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ParquetReadError);
      expect((error as Error).message).toMatch(/column "id": value at row 150 is beyond/);
      // The safe extremes around it, in the same row group, read exactly.
      const before = await readParquetColumns(file, 'big.parquet', specs, {
        rowStart: 0,
        rowEnd: 150,
      });
      expect(plain(before.id)).toEqual(
        data.slice(0, 150).map((v) => (v === null ? null : Number(v))),
      );
    },
  );

  it('a null in a non-nullable column fails naming the row, only inside the range read', async () => {
    const data = Array.from({ length: 200 }, (_, i) => (i === 120 ? null : BigInt(i)));
    const file = asyncBuffer(write(data, 'PLAIN'));
    const specs: ColumnSpec[] = [{ name: 'id', type: 'int64', nullable: false }];
    await expect(readParquetColumns(file, 'n.parquet', specs)).rejects.toThrow(ParquetSchemaError);
    await expect(readParquetColumns(file, 'n.parquet', specs)).rejects.toThrow(/null at row 120/);
    const around = await readParquetColumns(file, 'n.parquet', specs, {
      rowStart: 121,
      rowEnd: 200,
    });
    expect(around.id[0]).toBe(121);
  });
});
