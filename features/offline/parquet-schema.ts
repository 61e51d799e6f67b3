import type { FileMetaData, SchemaElement } from 'hyparquet';

/**
 * What a Parquet source must look like: column specs, the type rules that compare them with a
 * file's schema, and the two errors a bad file produces. Checked before any data page is read.
 */
export type ColumnType = 'int64' | 'string' | 'double' | 'timestamp';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Nulls allowed in the data (default true, as every column of the real files is OPTIONAL). */
  readonly nullable?: boolean;
}

/** The file is readable Parquet but a column is missing, of the wrong type, or null where it may not be. */
export class ParquetSchemaError extends Error {
  override readonly name = 'ParquetSchemaError';
  constructor(
    readonly location: string,
    readonly column: string,
    message: string,
  ) {
    super(`${location}: column "${column}": ${message}`);
  }
}

/** The file is not Parquet, is truncated or corrupt, or holds values we cannot represent. */
export class ParquetReadError extends Error {
  override readonly name = 'ParquetReadError';
  constructor(
    readonly location: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${location}: ${message}`, options);
  }
}

function describeType(element: SchemaElement): string {
  const logical = element.logical_type
    ? `${element.logical_type.type}${'unit' in element.logical_type ? `(${element.logical_type.unit})` : ''}`
    : undefined;
  return [element.type ?? 'group', element.converted_type, logical].filter(Boolean).join(' / ');
}

const expectedDescription: Record<ColumnType, string> = {
  int64: 'INT64 (INT32 accepted)',
  double: 'DOUBLE (FLOAT, INT32 accepted)',
  string: 'BYTE_ARRAY / UTF8',
  timestamp: 'INT64 / TIMESTAMP (MILLIS, MICROS or NANOS)',
};

const plainIntegerAnnotations = new Set([
  undefined,
  'INT_8',
  'INT_16',
  'INT_32',
  'INT_64',
  'UINT_8',
  'UINT_16',
  'UINT_32',
]);

/**
 * Type rules, lenient for lossless widening only: INT32 where int64 or double is expected and FLOAT
 * where double is. UINT_64, DECIMAL, DATE and friends are rejected rather than silently reinterpreted.
 * Timestamps need a TIMESTAMP annotation; naive ones (isAdjustedToUTC false, as pandas writes
 * tz-naive columns) are read as UTC, as Feast does.
 */
function typeMatches(element: SchemaElement, type: ColumnType): boolean {
  const { type: physical, converted_type: converted, logical_type: logical } = element;
  const logicalKind = logical?.type;
  switch (type) {
    case 'int64':
      if (physical === 'INT64') {
        return (
          (converted === undefined || converted === 'INT_64') &&
          (logicalKind === undefined || (logicalKind === 'INTEGER' && logical?.isSigned !== false))
        );
      }
      return (
        physical === 'INT32' &&
        plainIntegerAnnotations.has(converted) &&
        (logicalKind === undefined || logicalKind === 'INTEGER')
      );
    case 'double':
      if (physical === 'DOUBLE' || physical === 'FLOAT')
        return converted === undefined && (logicalKind === undefined || logicalKind === 'FLOAT16');
      return (
        physical === 'INT32' &&
        plainIntegerAnnotations.has(converted) &&
        (logicalKind === undefined || logicalKind === 'INTEGER')
      );
    case 'string':
      return (
        physical === 'BYTE_ARRAY' &&
        (converted === undefined || converted === 'UTF8' || converted === 'ENUM') &&
        (logicalKind === undefined || logicalKind === 'STRING' || logicalKind === 'ENUM')
      );
    case 'timestamp':
      return (
        physical === 'INT64' &&
        (converted === 'TIMESTAMP_MICROS' ||
          converted === 'TIMESTAMP_MILLIS' ||
          logicalKind === 'TIMESTAMP')
      );
  }
}

/**
 * Checks that every expected column exists at the top level with a compatible type.
 * @throws ParquetSchemaError naming the file, the column, and expected vs actual type
 */
export function checkSchema(
  metadata: FileMetaData,
  location: string,
  columns: readonly ColumnSpec[],
): void {
  const topLevel = new Map<string, SchemaElement>();
  // schema[0] is the root; flat files have only leaves after it. Nested groups are skipped.
  for (let i = 1; i < metadata.schema.length; i++) {
    const element = metadata.schema[i];
    if (!topLevel.has(element.name)) topLevel.set(element.name, element);
  }
  for (const spec of columns) {
    const element = topLevel.get(spec.name);
    if (!element) {
      const present = [...topLevel.keys()].join(', ');
      throw new ParquetSchemaError(
        location,
        spec.name,
        `missing (expected ${spec.type}; file has: ${present})`,
      );
    }
    if (
      element.num_children ||
      element.repetition_type === 'REPEATED' ||
      !typeMatches(element, spec.type)
    ) {
      throw new ParquetSchemaError(
        location,
        spec.name,
        `expected ${spec.type} (${expectedDescription[spec.type]}), found ${element.repetition_type === 'REPEATED' ? 'REPEATED ' : ''}${describeType(element)}`,
      );
    }
  }
}
