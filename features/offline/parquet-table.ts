import {
  checkSchema,
  ParquetReadError,
  ParquetSchemaError,
  type ColumnSpec,
} from './parquet-schema.js';
import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type ParquetParsers,
  type SchemaTree,
} from 'hyparquet';
import { parquetPlan } from 'hyparquet/src/plan.js';
import { getTreePath } from 'hyparquet/src/schema.js';
import {
  decodeNumericChunk,
  numericConversion,
  type NumericConversion,
} from './parquet-numeric.js';

/**
 * Schema-checked, columnar Parquet reading on top of hyparquet. Every column is checked against
 * the expected type before a data page is read, so a wrong file fails fast with a message naming
 * the file and the column. Output is columnar because callers scan 30k–10M rows: numbers land
 * in one Float64Array per column (null → NaN), strings in one array (null → null). Flat numeric
 * columns of the common types are decoded by parquet-numeric.ts (no BigInt per value); strings
 * and unusual types go through hyparquet's parquetRead. Both read from one set of byte ranges.
 */

/** int64, double and timestamp (epoch ms) columns: Float64Array, null → NaN. */
export type NumericColumn = Float64Array;
/** string columns: null stays null. */
export type StringColumn = (string | null)[];
export type ColumnValues = NumericColumn | StringColumn;

/** Columns by name, all of the same length. */
export type ColumnarRows = Record<string, ColumnValues>;

export interface RowRange {
  /** First row (inclusive), default 0. */
  readonly rowStart?: number;
  /** Last row (exclusive), default the end of the file. */
  readonly rowEnd?: number;
}

/** Column statistics of one row group, numbers for numeric columns (timestamps as epoch ms). */
export interface RowGroupStats {
  readonly rowGroup: number;
  readonly rows: number;
  /** undefined when the writer recorded no statistics: treat as unknown, never as "outside". */
  readonly min: Record<string, number | string | undefined>;
  readonly max: Record<string, number | string | undefined>;
}

export interface RowGroupBatch {
  readonly rowGroup: number;
  readonly rows: number;
  /** First row of this group within the file. */
  readonly rowStart: number;
  readonly columns: ColumnarRows;
  readonly skipped?: false;
}

export interface SkippedRowGroup {
  readonly rowGroup: number;
  readonly rows: number;
  readonly rowStart: number;
  readonly skipped: true;
}

export interface IterateRowGroupsOptions {
  /** Return true to skip a row group without reading its pages. */
  readonly skip?: (stats: RowGroupStats) => boolean;
  /** Row groups to visit: [rowGroupStart, rowGroupEnd), default all. For splitting work units. */
  readonly rowGroupStart?: number;
  readonly rowGroupEnd?: number;
}

/**
 * Timestamps are decoded straight to epoch-ms numbers instead of hyparquet's default `Date`
 * objects: one allocation less per value, and statistics come out comparable to window bounds.
 * Micros below 2^53 convert exactly, so `Number()` before dividing loses nothing.
 */
const epochMsParsers: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis: bigint) => Number(millis),
  timestampFromMicroseconds: (micros: bigint) => Math.floor(Number(micros) / 1_000),
  timestampFromNanoseconds: (nanos: bigint) => Number(nanos / 1_000_000n),
};

// The footer is read once per opened file, whatever mix of calls follows.
const metadataCache = new WeakMap<AsyncBuffer, Promise<FileMetaData>>();

/** Reads (once per file) and returns the Parquet footer, with timestamp statistics as epoch ms. */
export function readParquetMetadata(file: AsyncBuffer, location: string): Promise<FileMetaData> {
  let metadata = metadataCache.get(file);
  if (!metadata) {
    metadata = parquetMetadataAsync(file, { parsers: epochMsParsers }).catch((error: unknown) => {
      throw asReadError(location, 'not a readable Parquet file', error);
    });
    metadataCache.set(file, metadata);
  }
  return metadata;
}

function asReadError(location: string, what: string, error: unknown): Error {
  if (error instanceof ParquetReadError || error instanceof ParquetSchemaError) return error;
  // Source errors (S3 down, file vanished) keep their own class: they are not corrupt data.
  if ((error as Error)?.name === 'SourceReadError') return error as Error;
  const detail = error instanceof Error ? error.message : String(error);
  return new ParquetReadError(location, `${what} (${detail})`, { cause: error });
}

function statValue(value: unknown): number | string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  return undefined;
}

/** Per row group: its first row, row count and min/max statistics of the given columns. */
export function rowGroupStats(
  metadata: FileMetaData,
  columns: readonly ColumnSpec[],
): (RowGroupStats & { rowStart: number })[] {
  const wanted = new Set(columns.map((c) => c.name));
  let rowStart = 0;
  return metadata.row_groups.map((group, rowGroup) => {
    const rows = Number(group.num_rows);
    const min: Record<string, number | string | undefined> = {};
    const max: Record<string, number | string | undefined> = {};
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta || meta.path_in_schema.length !== 1 || !wanted.has(meta.path_in_schema[0]))
        continue;
      const name = meta.path_in_schema[0];
      // min_value/max_value are the well-ordered ones; legacy min/max are a fallback for old writers.
      min[name] = statValue(meta.statistics?.min_value ?? meta.statistics?.min);
      max[name] = statValue(meta.statistics?.max_value ?? meta.statistics?.max);
    }
    const stats = { rowGroup, rows, rowStart, min, max };
    rowStart += rows;
    return stats;
  });
}

function allocate(columns: readonly ColumnSpec[], rows: number): ColumnarRows {
  const out: ColumnarRows = {};
  for (const spec of columns) {
    out[spec.name] =
      spec.type === 'string'
        ? new Array<string | null>(rows).fill(null)
        : new Float64Array(rows).fill(NaN);
  }
  return out;
}

/** Copies one decoded chunk into the output, converting BigInt and checking nulls on the way. */
function copyChunk(
  location: string,
  spec: ColumnSpec,
  target: ColumnValues,
  data: ArrayLike<unknown>,
  chunkStart: number,
  from: number,
  to: number,
): void {
  const start = Math.max(from, chunkStart);
  const end = Math.min(to, chunkStart + data.length);
  const allowNull = spec.nullable !== false;
  if (spec.type === 'string') {
    const strings = target as StringColumn;
    for (let row = start; row < end; row++) {
      const value = data[row - chunkStart];
      if (value === null || value === undefined) {
        if (!allowNull) throw nullError(location, spec, row);
        strings[row - from] = null;
      } else {
        strings[row - from] = value as string;
      }
    }
    return;
  }
  const numbers = target as NumericColumn;
  for (let row = start; row < end; row++) {
    const value = data[row - chunkStart];
    if (value === null || value === undefined) {
      if (!allowNull) throw nullError(location, spec, row);
      numbers[row - from] = NaN;
    } else if (typeof value === 'bigint') {
      if (value > 9007199254740991n || value < -9007199254740991n) {
        throw unsafeIntegerError(location, spec, row);
      }
      numbers[row - from] = Number(value);
    } else {
      numbers[row - from] = value as number;
    }
  }
}

function nullError(location: string, spec: ColumnSpec, row: number): ParquetSchemaError {
  return new ParquetSchemaError(
    location,
    spec.name,
    `null at row ${row}, but the column may not be null`,
  );
}

/**
 * The plan's byte ranges, each read once. What hyparquet's prefetchAsyncBuffer does, plus `view`:
 * a chunk for parquet-numeric.ts is a view into its range rather than a copy (the copies were
 * megabytes of garbage per row group). `asyncBuffer` serves parquetRead as prefetchAsyncBuffer
 * would: a copy of a range when it holds the slice, else a read of its own.
 */
function prefetchRanges(
  file: AsyncBuffer,
  fetches: readonly { startByte: number; endByte: number }[],
): { view(start: number, end: number): Promise<Uint8Array>; asyncBuffer: AsyncBuffer } {
  const ranges = fetches.map(({ startByte, endByte }) => {
    const bytes = Promise.resolve(file.slice(startByte, endByte));
    // Observed here; whoever reads the range sees the rejection.
    bytes.catch(() => undefined);
    return { startByte, endByte, bytes };
  });
  const holding = (start: number, end: number) =>
    ranges.find((range) => range.startByte <= start && end <= range.endByte);
  return {
    async view(start, end) {
      const range = holding(start, end);
      if (!range) return new Uint8Array(await file.slice(start, end));
      return new Uint8Array(await range.bytes, start - range.startByte, end - start);
    },
    asyncBuffer: {
      byteLength: file.byteLength,
      slice(start, end = file.byteLength) {
        const range = holding(start, end);
        if (!range) return file.slice(start, end);
        return range.bytes.then((bytes) =>
          bytes.slice(start - range.startByte, end - range.startByte),
        );
      },
    },
  };
}

interface FastColumn {
  readonly spec: ColumnSpec;
  readonly schemaPath: SchemaTree[];
  readonly conversion: NumericConversion;
}

/** The numeric columns parquet-numeric.ts decodes; the others take hyparquet's full path. */
function fastColumns(
  metadata: FileMetaData,
  columns: readonly ColumnSpec[],
): Map<string, FastColumn> {
  const fast = new Map<string, FastColumn>();
  const tree = parquetSchema(metadata);
  for (const spec of columns) {
    if (spec.type === 'string') continue;
    const schemaPath = getTreePath(tree, [spec.name]);
    const conversion = numericConversion(schemaPath);
    if (conversion) fast.set(spec.name, { spec, schemaPath, conversion });
  }
  return fast;
}

async function readRange(
  file: AsyncBuffer,
  metadata: FileMetaData,
  location: string,
  columns: readonly ColumnSpec[],
  from: number,
  to: number,
): Promise<ColumnarRows> {
  const out = allocate(columns, Math.max(to - from, 0));
  if (to <= from) return out;
  const fast = fastColumns(metadata, columns);
  const rest = columns.filter((spec) => !fast.has(spec.name));
  // One plan and one set of byte-range reads for every column (hyparquet coalesces neighbouring
  // chunks into runs of up to 2 MB); both decoding paths below read from it.
  const plan = parquetPlan({
    file,
    metadata,
    rowStart: from,
    rowEnd: to,
    columns: columns.map((c) => c.name),
  });
  const source = prefetchRanges(file, plan.fetches);
  const byName = new Map(rest.map((spec) => [spec.name, spec]));
  let failure: unknown;
  const readRest =
    rest.length === 0
      ? Promise.resolve()
      : parquetRead({
          file: source.asyncBuffer,
          metadata,
          columns: rest.map((c) => c.name),
          rowStart: from,
          rowEnd: to,
          parsers: epochMsParsers,
          onChunk: ({ columnName, columnData, rowStart }) => {
            const spec = byName.get(columnName);
            if (!spec || failure) return;
            try {
              copyChunk(location, spec, out[columnName], columnData, rowStart, from, to);
            } catch (error) {
              failure = error;
            }
          },
        });
  const readFast = Promise.all(
    plan.groups.flatMap((group) =>
      group.chunks.map(async (chunk) => {
        const column = fast.get(chunk.columnMetadata.path_in_schema[0]);
        if (!column) return;
        const bytes = await source.view(chunk.range.startByte, chunk.range.endByte);
        decodeFastChunk(location, column, out, bytes, chunk.columnMetadata, group, from, to);
      }),
    ),
  );
  // Both settle before any error is thrown, so no read is left running behind a failure.
  const [restResult, fastResult] = await Promise.allSettled([readRest, readFast]);
  for (const result of [restResult, fastResult]) {
    if (result.status === 'rejected') {
      throw asReadError(location, 'corrupt or truncated Parquet data', result.reason);
    }
  }
  if (failure) throw asReadError(location, 'cannot decode column data', failure);
  return out;
}

/** Decodes a whole chunk of a row group, then keeps the rows of [from, to). */
function decodeFastChunk(
  location: string,
  { spec, schemaPath, conversion }: FastColumn,
  out: ColumnarRows,
  bytes: Uint8Array,
  meta: Parameters<typeof decodeNumericChunk>[1],
  group: { groupStart: number; groupRows: number },
  from: number,
  to: number,
): void {
  const { groupStart, groupRows } = group;
  const start = Math.max(from, groupStart);
  const end = Math.min(to, groupStart + groupRows);
  const whole = start === groupStart && end === groupStart + groupRows;
  const column = out[spec.name] as NumericColumn;
  // A wholly selected group decodes in place; a partial one through a scratch array.
  const target = whole
    ? column.subarray(groupStart - from, groupStart - from + groupRows)
    : new Float64Array(groupRows);
  const inRange = (row: number) => groupStart + row >= start && groupStart + row < end;
  try {
    decodeNumericChunk(bytes, meta, schemaPath, conversion, spec.nullable !== false, target, {
      null: (row) => (inRange(row) ? nullError(location, spec, groupStart + row) : undefined),
      unsafe: (row) =>
        inRange(row) ? unsafeIntegerError(location, spec, groupStart + row) : undefined,
    });
  } catch (error) {
    // asReadError passes our own errors (a null, an unsafe integer) through as they are.
    throw asReadError(location, `cannot decode column "${spec.name}"`, error);
  }
  if (!whole) column.set(target.subarray(start - groupStart, end - groupStart), start - from);
}

function unsafeIntegerError(location: string, spec: ColumnSpec, row: number): ParquetReadError {
  return new ParquetReadError(
    location,
    `column "${spec.name}": value at row ${row} is beyond Number.MAX_SAFE_INTEGER and cannot be represented exactly`,
  );
}

/**
 * Reads the given columns (optionally a row range) into columnar arrays, after checking the schema.
 *
 * @example
 * const file = await openParquetSource('features/sample/zipcode_table.parquet');
 * const cols = await readParquetColumns(file, 'features/sample/zipcode_table.parquet', zipcodeTableSchema);
 * const zipcodes = cols.zipcode as Float64Array;
 */
export async function readParquetColumns(
  file: AsyncBuffer,
  location: string,
  columns: readonly ColumnSpec[],
  options: RowRange = {},
): Promise<ColumnarRows> {
  const metadata = await readParquetMetadata(file, location);
  checkSchema(metadata, location, columns);
  const total = Number(metadata.num_rows);
  const from = Math.min(Math.max(options.rowStart ?? 0, 0), total);
  const to = Math.min(Math.max(options.rowEnd ?? total, from), total);
  return readRange(file, metadata, location, columns, from, to);
}

/**
 * Reads one row group at a time, so memory is bounded by a row group rather than the file. Row
 * groups for which `skip(stats)` returns true are reported as skipped without reading their pages.
 *
 * @example
 * for await (const group of iterateRowGroups(file, location, creditHistorySchema, {
 *   skip: ({ min, max }) => (max.event_timestamp as number) <= start || (min.event_timestamp as number) > end,
 * })) if (!group.skipped) use(group.columns);
 */
export async function* iterateRowGroups(
  file: AsyncBuffer,
  location: string,
  columns: readonly ColumnSpec[],
  options: IterateRowGroupsOptions = {},
): AsyncGenerator<RowGroupBatch | SkippedRowGroup> {
  const metadata = await readParquetMetadata(file, location);
  checkSchema(metadata, location, columns);
  const groups = rowGroupStats(metadata, columns);
  const first = Math.max(options.rowGroupStart ?? 0, 0);
  const last = Math.min(options.rowGroupEnd ?? groups.length, groups.length);
  for (let index = first; index < last; index++) {
    const stats = groups[index];
    if (options.skip?.(stats)) {
      yield { rowGroup: index, rows: stats.rows, rowStart: stats.rowStart, skipped: true };
      continue;
    }
    const data = await readRange(
      file,
      metadata,
      location,
      columns,
      stats.rowStart,
      stats.rowStart + stats.rows,
    );
    yield { rowGroup: index, rows: stats.rows, rowStart: stats.rowStart, columns: data };
  }
}

/** Narrowing accessors for callers that know a column's type from its spec. */
export function numericColumn(columns: ColumnarRows, name: string): NumericColumn {
  const values = columns[name];
  if (!(values instanceof Float64Array))
    throw new TypeError(`column "${name}" was not read as a numeric column`);
  return values;
}

export function stringColumn(columns: ColumnarRows, name: string): StringColumn {
  const values = columns[name];
  if (!Array.isArray(values))
    throw new TypeError(`column "${name}" was not read as a string column`);
  return values;
}

export {
  creditHistorySchema,
  loanTableSchema,
  viewSourceSchema,
  zipcodeTableSchema,
} from './source-schemas.js';
export { checkSchema, ParquetReadError, ParquetSchemaError } from './parquet-schema.js';
export type { ColumnSpec, ColumnType } from './parquet-schema.js';
