import type { S3Client } from '@aws-sdk/client-s3';
import { listSourceFiles, openParquetSource } from '../../features/offline/byte-range.js';
import {
  creditHistorySchema,
  loanTableSchema,
  readParquetColumns,
  zipcodeTableSchema,
  type ColumnSpec,
  type ColumnarRows,
} from '../../features/offline/parquet-table.js';
import { creditHistory, loanTable, zipcodeFeatures } from '../../features/definitions.js';

/** The three sources of a training run, read columnar and schema-checked. */
export interface TrainingTables {
  readonly loans: Table;
  readonly zipcodes: Table;
  readonly creditHistory: Table;
}

export interface Table {
  readonly columns: ColumnarRows;
  readonly rows: number;
  /** The file(s) read, for messages. */
  readonly location: string;
}

/** The data is readable but unusable for training (empty table, bad label); names file and column. */
export class TrainingDataError extends Error {
  override readonly name = 'TrainingDataError';
  constructor(
    readonly location: string,
    readonly column: string | undefined,
    message: string,
  ) {
    super(`${location}: ${column ? `column "${column}": ` : ''}${message}`);
  }
}

/**
 * Reads loan_table, zipcode_table and credit_history under a directory or `s3://bucket/prefix`
 * (each a file or a folder of Parquet files) through the project's one Parquet path.
 *
 * @example
 * const tables = await readTrainingTables('features/sample');
 */
export async function readTrainingTables(
  base: string,
  options: { s3?: S3Client } = {},
): Promise<TrainingTables> {
  const [loans, zipcodes, credit] = await Promise.all([
    readTable(base, loanTable.path, loanTableSchema, options),
    readTable(base, zipcodeFeatures.source.path, zipcodeTableSchema, options),
    readTable(base, creditHistory.source.path, creditHistorySchema, options),
  ]);
  checkLabels(loans);
  return { loans, zipcodes, creditHistory: credit };
}

async function readTable(
  base: string,
  name: string,
  schema: readonly ColumnSpec[],
  options: { s3?: S3Client },
): Promise<Table> {
  const files = await listSourceFiles(base, name, options);
  const parts: ColumnarRows[] = [];
  for (const location of files) {
    parts.push(
      await readParquetColumns(await openParquetSource(location, options), location, schema),
    );
  }
  const location = files.length === 1 ? files[0] : `${files.length} files under ${name}`;
  const columns = concatenate(schema, parts);
  const rows = columns[schema[0].name].length;
  if (rows === 0) throw new TrainingDataError(location, undefined, 'the table has no rows');
  return { columns, rows, location };
}

function concatenate(schema: readonly ColumnSpec[], parts: ColumnarRows[]): ColumnarRows {
  if (parts.length === 1) return parts[0];
  const out: ColumnarRows = {};
  for (const { name, type } of schema) {
    const pieces = parts.map((part) => part[name]);
    if (type === 'string') {
      out[name] = (pieces as (string | null)[][]).flat();
    } else {
      const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
      const joined = new Float64Array(total);
      let offset = 0;
      for (const piece of pieces as Float64Array[]) {
        joined.set(piece, offset);
        offset += piece.length;
      }
      out[name] = joined;
    }
  }
  return out;
}

function checkLabels(loans: Table): void {
  const labels = loans.columns[loanTable.label] as Float64Array;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new TrainingDataError(
        loans.location,
        loanTable.label,
        `row ${i} holds ${labels[i]}; the label must be 0 or 1 (1 = defaulted)`,
      );
    }
  }
}
