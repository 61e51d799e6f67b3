/**
 * Flat numeric Parquet column chunks decoded straight into a Float64Array.
 *
 * Why not hyparquet's own row assembly for these columns: pandas and pyarrow write every column
 * OPTIONAL, and for an OPTIONAL column hyparquet's assembleLists() pushes each value into a plain
 * array. For INT64 that means one BigInt heap object per value, read out of the page's
 * BigInt64Array, which parquet-table.ts then turned back into a number. On 1M credit_history rows
 * (11 such columns) those short-lived objects were most of the materializer's garbage: the V8
 * scavenger copied them while a row group was being decoded, and GC took about a third of the
 * client's CPU time (scripts/bench-materialize.ts, `--trace-gc`).
 *
 * hyparquet still does the Parquet work here: page headers, decompression, definition levels and
 * every encoding (readDataPage / readDataPageV2, readPlain for dictionaries). Only the last step,
 * from decoded page values to rows, is ours: INT64 values are read as two 32-bit halves of the
 * page's own buffer, so no BigInt is created, and nulls (definition level below the maximum)
 * become NaN. Column types outside the common ones (`numericConversion` returns undefined: UINT_*,
 * NANOS, INT96, DECIMAL, FLOAT16, nested columns) keep hyparquet's full path in parquet-table.ts.
 */
import type { ColumnMetaData, SchemaElement, SchemaTree } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel } from 'hyparquet/src/schema.js';

type ColumnDecoder = Parameters<typeof readDataPage>[2];
type DecodedValues = ReturnType<typeof readPlain>;

/** How a physical value becomes the number parquet-table.ts returns (timestamps: epoch ms). */
export type NumericConversion = 'number' | 'microsToMillis';

/**
 * The conversion of a flat numeric column this module decodes, or undefined for hyparquet's path.
 * Mirrors hyparquet's convert(): the converted type wins over the logical type.
 */
export function numericConversion(
  schemaPath: readonly SchemaTree[],
): NumericConversion | undefined {
  if (schemaPath.length !== 2 || getMaxRepetitionLevel(schemaPath as SchemaTree[]) > 0) {
    return undefined;
  }
  const element: SchemaElement = schemaPath[1].element;
  const { type, converted_type: converted, logical_type: logical } = element;
  const signedInteger =
    logical === undefined || (logical.type === 'INTEGER' && logical.isSigned !== false);
  switch (type) {
    case 'DOUBLE':
    case 'FLOAT':
      return converted === undefined && logical === undefined ? 'number' : undefined;
    case 'INT32':
      return (converted === undefined ||
        converted === 'INT_8' ||
        converted === 'INT_16' ||
        converted === 'INT_32') &&
        signedInteger
        ? 'number'
        : undefined;
    case 'INT64':
      if (converted === 'TIMESTAMP_MILLIS') return 'number';
      if (converted === 'TIMESTAMP_MICROS') return 'microsToMillis';
      if (converted === undefined && logical?.type === 'TIMESTAMP') {
        if (logical.unit === 'MILLIS') return 'number';
        if (logical.unit === 'MICROS') return 'microsToMillis';
        return undefined;
      }
      return (converted === undefined || converted === 'INT_64') && signedInteger
        ? 'number'
        : undefined;
    default:
      return undefined;
  }
}

/**
 * The errors for a row (within the chunk) whose value cannot be represented; undefined lets the
 * row pass (as NaN), for rows outside the range the caller asked for.
 */
export interface NumericChunkErrors {
  /** A null where the column may not be null. */
  null(row: number): Error | undefined;
  /** An integer beyond Number.MAX_SAFE_INTEGER (timestamps are exempt, as in hyparquet's path). */
  unsafe(row: number): Error | undefined;
}

const TWO_32 = 4294967296;

/**
 * Decodes one whole column chunk (all of its pages) into `target`, which must hold exactly the
 * row group's rows. Throws on a chunk whose pages do not add up to that many rows.
 */
export function decodeNumericChunk(
  bytes: Uint8Array,
  meta: ColumnMetaData,
  schemaPath: SchemaTree[],
  conversion: NumericConversion,
  nullable: boolean,
  target: Float64Array,
  errors: NumericChunkErrors,
): void {
  const element = schemaPath[schemaPath.length - 1].element;
  const decoder = {
    pathInSchema: meta.path_in_schema,
    type: meta.type,
    element,
    schemaPath,
    codec: meta.codec,
  } as ColumnDecoder;
  const maxDefinitionLevel = getMaxDefinitionLevel(schemaPath);
  const timestamp = isTimestamp(element);
  const reader = {
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    offset: 0,
  };
  let dictionary: Float64Array | undefined;
  let dictionaryUnsafe: Uint8Array | undefined;
  let row = 0;
  while (row < target.length) {
    if (reader.offset >= bytes.byteLength) break;
    const header = parquetHeader(reader);
    const size = header.compressed_page_size;
    // Corrupt headers must fail, not move the reader backwards (an endless loop).
    if (!Number.isSafeInteger(size) || size < 0 || reader.offset + size > bytes.byteLength) {
      throw new Error('page header gives an impossible page size');
    }
    const compressed = bytes.subarray(reader.offset, reader.offset + size);
    reader.offset += size;
    const decompress = () =>
      decompressPage(compressed, Number(header.uncompressed_page_size), meta.codec, undefined);
    if (header.type === 'DICTIONARY_PAGE') {
      const page = decompress();
      const pageReader = {
        view: new DataView(page.buffer, page.byteOffset, page.byteLength),
        offset: 0,
      };
      const count = header.dictionary_page_header?.num_values ?? 0;
      const values = readPlain(pageReader, meta.type, count, element.type_length);
      // An unrepresentable entry fails only if a row refers to it.
      dictionaryUnsafe = undefined;
      dictionary = toNumbers(values, conversion, timestamp, (index) => {
        (dictionaryUnsafe ??= new Uint8Array(count))[index] = 1;
      });
      continue;
    }
    let pageRows: number;
    let page: ReturnType<typeof readDataPage>;
    let encoding: string;
    if (header.type === 'DATA_PAGE' && header.data_page_header) {
      const decompressed = decompress();
      pageRows = header.data_page_header.num_values;
      encoding = header.data_page_header.encoding;
      page = readDataPage(decompressed, header.data_page_header, decoder);
    } else if (header.type === 'DATA_PAGE_V2' && header.data_page_header_v2) {
      pageRows = header.data_page_header_v2.num_values;
      encoding = header.data_page_header_v2.encoding;
      page = readDataPageV2(compressed, header, decoder);
    } else {
      // Index pages and unknown page types carry no rows.
      continue;
    }
    if (!Number.isSafeInteger(pageRows) || pageRows < 0 || row + pageRows > target.length) {
      throw new Error(`a page's row count does not fit the row group's ${target.length} rows`);
    }
    const dictionaryEncoded = encoding.endsWith('_DICTIONARY');
    if (dictionaryEncoded && !dictionary) throw new Error('dictionary page missing');
    // Flags (by index among the page's non-null values) of unrepresentable values; rare.
    let unsafe: Uint8Array | undefined;
    let dense: Float64Array;
    if (dictionaryEncoded) {
      const indexes = page.dataPage as ArrayLike<number>;
      dense = lookUp(indexes, dictionary!);
      if (dictionaryUnsafe) unsafe = flagsOf(indexes, dictionaryUnsafe);
    } else {
      const count = page.dataPage.length;
      dense = toNumbers(page.dataPage, conversion, timestamp, (index) => {
        (unsafe ??= new Uint8Array(count))[index] = 1;
      });
    }
    const levels = page.definitionLevels;
    if (levels && levels.length > 0) {
      let valueIndex = 0;
      for (let i = 0; i < pageRows; i++) {
        if (levels[i] === maxDefinitionLevel) {
          if (unsafe && unsafe[valueIndex]) throwIfDefined(errors.unsafe(row + i));
          target[row + i] = dense[valueIndex++];
        } else {
          if (!nullable) throwIfDefined(errors.null(row + i));
          target[row + i] = NaN;
        }
      }
      if (valueIndex !== dense.length)
        throw new Error('page values do not match its definition levels');
    } else {
      // No definition levels: hyparquet drops them when a page has no nulls.
      if (dense.length !== pageRows) throw new Error('page values do not match its row count');
      if (unsafe) {
        for (let i = 0; i < pageRows; i++) if (unsafe[i]) throwIfDefined(errors.unsafe(row + i));
      }
      target.set(dense, row);
    }
    row += pageRows;
  }
  if (row !== target.length) {
    throw new Error(`column chunk holds ${row} rows, the row group ${target.length}`);
  }
}

function flagsOf(indexes: ArrayLike<number>, dictionaryFlags: Uint8Array): Uint8Array {
  const flags = new Uint8Array(indexes.length);
  for (let i = 0; i < indexes.length; i++) flags[i] = dictionaryFlags[indexes[i]];
  return flags;
}

function throwIfDefined(error: Error | undefined): void {
  if (error) throw error;
}

function isTimestamp(element: SchemaElement): boolean {
  return (
    element.converted_type === 'TIMESTAMP_MILLIS' ||
    element.converted_type === 'TIMESTAMP_MICROS' ||
    element.logical_type?.type === 'TIMESTAMP'
  );
}

function lookUp(indexes: ArrayLike<number>, dictionary: Float64Array): Float64Array {
  const out = new Float64Array(indexes.length);
  for (let i = 0; i < indexes.length; i++) {
    const index = indexes[i];
    if (!(index >= 0 && index < dictionary.length))
      throw new Error('dictionary index out of range');
    out[i] = dictionary[index];
  }
  return out;
}

/**
 * Page or dictionary values as numbers. INT64 values come from the two little-endian 32-bit halves
 * of the BigInt64Array's own buffer (no BigInt per value); a value beyond 2^53 goes through the
 * BigInt for a timestamp, as hyparquet's path would; for a plain integer column it is reported
 * through `unsafe(index)` (and left NaN).
 */
function toNumbers(
  values: DecodedValues,
  conversion: NumericConversion,
  timestamp: boolean,
  unsafe: (index: number) => void,
): Float64Array {
  const count = values.length;
  const out = new Float64Array(count);
  const convert = (value: number) =>
    conversion === 'microsToMillis' ? Math.floor(value / 1_000) : value;
  if (values instanceof BigInt64Array) {
    const halves = new Int32Array(values.buffer, values.byteOffset, count * 2);
    for (let i = 0; i < count; i++) {
      const high = halves[2 * i + 1];
      let value: number;
      if (high > -0x200000 && high < 0x200000) {
        // |value| < 2^53 - 2^32: exact from the halves.
        value = high * TWO_32 + (halves[2 * i] >>> 0);
      } else {
        // Near or beyond 2^53 (rare): the BigInt decides, as in hyparquet's path.
        value = Number(values[i]);
        if (!timestamp && !Number.isSafeInteger(value)) {
          unsafe(i);
          out[i] = NaN;
          continue;
        }
      }
      out[i] = convert(value);
    }
    return out;
  }
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value === 'number') {
      out[i] = convert(value);
    } else if (typeof value === 'bigint') {
      const number = Number(value);
      if (!timestamp && !Number.isSafeInteger(number)) {
        unsafe(i);
        out[i] = NaN;
      } else out[i] = convert(number);
    } else {
      throw new Error(`unexpected decoded value of type ${typeof value}`);
    }
  }
  return out;
}
