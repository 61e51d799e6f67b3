import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSpec } from './parquet-schema.js';
import {
  EXAMPLE_DOB_SSN,
  FEATURE_END,
  correctionOf,
  dobSsn,
  drawSnapshots,
  exampleApplicantSnapshots,
  snapshotAsOf,
  type Applicant,
  type CreditSnapshot,
} from './sample-applicants.js';
import { EXAMPLE_ZIPCODE, generateZipcodeRows } from './sample-zipcodes.js';
import { SeededRandom } from './seeded-random.js';
import {
  calibratedIntercept,
  defaultLogit,
  interestRate,
  intents,
  roundMoney,
  type SampleRow,
} from './sample-loans.js';
import { creditHistorySchema, loanTableSchema, zipcodeTableSchema } from './source-schemas.js';

/**
 * Deterministic sample data in exactly the schema of the real Feast credit-scoring files: same
 * column names, order, physical and logical types (all OPTIONAL, timestamps TIMESTAMP_MICROS UTC).
 * Same options → byte-identical files: a seeded PRNG, fixed dates, no clock.
 */

export interface SampleDataOptions {
  /** Number of loans (default 28,000, the size of the real loan table). */
  readonly loans?: number;
  /** Number of distinct ZIP codes (default 28,000). */
  readonly zipcodes?: number;
  readonly seed?: number;
  /** Rows per row group (default 10,000: several groups per file, so row-group skipping is exercised). */
  readonly rowGroupSize?: number;
}

export type { SampleRow };

export interface SampleTable {
  readonly file: string;
  readonly schema: readonly ColumnSpec[];
  readonly rows: readonly SampleRow[];
}

export const SAMPLE_FILES = [
  'loan_table.parquet',
  'zipcode_table.parquet',
  'credit_history.parquet',
] as const;
export const EXAMPLE_APPLICANT = {
  zipcode: EXAMPLE_ZIPCODE.zipcode,
  dob_ssn: EXAMPLE_DOB_SSN,
} as const;

const LOAN_START = Date.UTC(2025, 0, 1);
const LOAN_END = Date.UTC(2026, 9, 31, 23, 59, 59);
const YEAR = 365.25 * 86_400_000;

function newApplicant(
  random: SeededRandom,
  loanTimestamp: number,
  age: number,
  taken: Set<string>,
): Applicant {
  const birth = Math.floor(loanTimestamp - age * YEAR - random.uniform(0, YEAR));
  let key = dobSsn(birth, random.int(1, 9999));
  while (taken.has(key)) key = dobSsn(birth, random.int(1, 9999));
  taken.add(key);
  return { dob_ssn: key, risk: random.normal(), birth, homeOwnership: 'RENT', snapshots: [] };
}

interface LoanDraft extends SampleRow {
  event_timestamp: number;
}

/** Generates the three tables in memory. */
export function generateSampleTables(options: SampleDataOptions = {}): SampleTable[] {
  const loanCount = options.loans ?? 28_000;
  const random = new SeededRandom(options.seed ?? 20_250_101);
  const zipcodeRows = generateZipcodeRows(random, options.zipcodes ?? 28_000);
  // Real loans spread almost uniformly over ZIP codes; some weight by population adds big-city skew.
  const firstSnapshot = zipcodeRows.filter(
    (row) => row.event_timestamp === zipcodeRows[0].event_timestamp,
  );
  const cumulative = new Float64Array(firstSnapshot.length);
  firstSnapshot.reduce((sum, row, i) => (cumulative[i] = sum + row.population), 0);
  const pickZipcode = () => {
    const target = random.next() * cumulative[cumulative.length - 1];
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] <= target) lo = mid + 1;
      else hi = mid;
    }
    return firstSnapshot[lo].zipcode;
  };

  const taken = new Set<string>();
  const applicants: Applicant[] = [];
  const loans: LoanDraft[] = [];
  const applicantOfLoan: Applicant[] = [];
  for (let i = 0; i < loanCount; i++) {
    const eventTimestamp = Math.floor(random.uniform(LOAN_START, LOAN_END));
    const age = Math.min(80, Math.max(20, 19 + Math.floor(random.logNormal(7, 0.67))));
    let applicant: Applicant;
    if (i > 0 && random.chance(0.01)) {
      applicant = applicants[random.int(0, applicants.length - 1)];
    } else if (i === 0) {
      applicant = {
        dob_ssn: EXAMPLE_DOB_SSN,
        risk: 0.2,
        birth: Date.UTC(1963, 5, 21),
        homeOwnership: 'RENT',
        snapshots: [],
      };
      taken.add(EXAMPLE_DOB_SSN);
    } else {
      applicant = newApplicant(random, eventTimestamp, age, taken);
    }
    const income = random.chance(0.0005)
      ? roundMoney(random, random.uniform(1_000_000, 6_000_000))
      : Math.max(
          4000,
          roundMoney(random, random.logNormal(56_000, 0.53) * (1 + 0.012 * (age - 26))),
        );
    if (applicant.snapshots.length === 0) {
      const ownership = random.chance(0.003)
        ? 'OTHER'
        : random.chance(0.077 * (1 + 0.03 * (age - 26)))
          ? 'OWN'
          : random.chance(
                1 / (1 + Math.exp(-(-0.35 + 1.1 * Math.log(income / 56_000) + 0.06 * (age - 26)))),
              )
            ? 'MORTGAGE'
            : 'RENT';
      applicant.homeOwnership = ownership;
      applicants.push(applicant);
      if (i === 0) exampleApplicantSnapshots(random, applicant);
      else
        drawSnapshots(
          random,
          applicant,
          eventTimestamp,
          eventTimestamp < FEATURE_END - 30 * 86_400_000 && random.chance(0.04),
        );
    }
    const empLength = Math.min(
      Math.max(age - 16, 0),
      Math.floor(-Math.log(1 - random.next()) * 5.2),
    );
    const amount = Math.min(
      35_000,
      Math.max(
        500,
        Math.round((random.logNormal(8_000, 0.62) * Math.pow(income / 56_000, 0.3)) / 25) * 25,
      ),
    );
    const riskScore = 0.6 * applicant.risk + 0.8 * random.normal();
    const loan: LoanDraft = {
      loan_id: 0,
      dob_ssn: applicant.dob_ssn,
      zipcode:
        i === 0
          ? EXAMPLE_ZIPCODE.zipcode
          : random.chance(0.3)
            ? pickZipcode()
            : firstSnapshot[random.int(0, firstSnapshot.length - 1)].zipcode,
      person_age: Math.floor((eventTimestamp - applicant.birth) / YEAR),
      person_income: i === 0 ? 59_000 : income,
      person_home_ownership: applicant.homeOwnership,
      person_emp_length: i === 0 ? 123 : random.chance(0.01) ? null : empLength,
      loan_intent: i === 0 ? 'PERSONAL' : random.weighted(intents),
      loan_amnt:
        i === 0
          ? 35_000
          : random.chance(0.6)
            ? Math.max(500, Math.round(amount / 500) * 500)
            : amount,
      loan_int_rate: i === 0 ? 16.02 : random.chance(0.01) ? null : interestRate(riskScore),
      loan_status: 0,
      event_timestamp: eventTimestamp,
      created_timestamp: eventTimestamp,
    };
    loans.push(loan);
    applicantOfLoan.push(applicant);
  }
  // Oddities the real data has: impossible ages and employment lengths (data-entry errors).
  for (const [index, age] of [
    [loanCount >> 3, 144],
    [loanCount >> 2, 123],
    [loanCount >> 1, 144],
    [(loanCount * 3) >> 2, 144],
  ]) {
    if (index > 0 && index < loanCount) loans[index].person_age = age;
  }
  if (loanCount > 8) loans[(loanCount * 5) >> 3].person_emp_length = 123;

  // Labels follow the features as known at loan time (point in time), plus noise.
  const logits = new Float64Array(loans.length);
  loans.forEach((loan, i) => {
    const applicant = applicantOfLoan[i];
    logits[i] = defaultLogit(
      loan,
      snapshotAsOf(applicant, loan.event_timestamp) ?? applicant.snapshots[0],
      applicant,
    );
  });
  const intercept = calibratedIntercept(logits);
  loans.forEach((loan, i) => {
    loan.loan_status = random.chance(1 / (1 + Math.exp(-(intercept + logits[i])))) ? 1 : 0;
  });
  loans.sort((a, b) => a.event_timestamp - b.event_timestamp);
  loans.forEach((loan, i) => (loan.loan_id = 10_000 + i));

  const credit: CreditSnapshot[] = [];
  for (const applicant of applicants) {
    for (const snapshot of applicant.snapshots) {
      credit.push(snapshot);
      if (random.chance(0.005)) credit.push(correctionOf(random, snapshot));
    }
  }
  // Appended as they were recorded: by created time.
  credit.sort(
    (a, b) => a.created_timestamp - b.created_timestamp || (a.dob_ssn < b.dob_ssn ? -1 : 1),
  );

  return [
    { file: 'loan_table.parquet', schema: loanTableSchema, rows: loans },
    {
      file: 'zipcode_table.parquet',
      schema: zipcodeTableSchema,
      rows: zipcodeRows as unknown as SampleRow[],
    },
    {
      file: 'credit_history.parquet',
      schema: creditHistorySchema,
      rows: credit as unknown as SampleRow[],
    },
  ];
}

/** The Parquet schema of the real files: every column OPTIONAL, as pandas/pyarrow wrote them. */
export function parquetSchemaOf(columns: readonly ColumnSpec[]): SchemaElement[] {
  const leaf = (spec: ColumnSpec): SchemaElement => {
    switch (spec.type) {
      case 'int64':
        return { name: spec.name, type: 'INT64', repetition_type: 'OPTIONAL' };
      case 'double':
        return { name: spec.name, type: 'DOUBLE', repetition_type: 'OPTIONAL' };
      case 'string':
        return {
          name: spec.name,
          type: 'BYTE_ARRAY',
          repetition_type: 'OPTIONAL',
          converted_type: 'UTF8',
          logical_type: { type: 'STRING' },
        };
      case 'timestamp':
        return {
          name: spec.name,
          type: 'INT64',
          repetition_type: 'OPTIONAL',
          converted_type: 'TIMESTAMP_MICROS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        };
    }
  };
  return [
    { name: 'schema', repetition_type: 'REQUIRED', num_children: columns.length },
    ...columns.map(leaf),
  ];
}

/** Encodes one table as Parquet bytes (SNAPPY, statistics on). */
export function sampleTableToParquet(table: SampleTable, rowGroupSize = 10_000): ArrayBuffer {
  const columnData = table.schema.map((spec) => {
    const values = table.rows.map((row) => row[spec.name]);
    const data =
      spec.type === 'int64'
        ? values.map((v) => (v === null ? null : BigInt(v as number)))
        : spec.type === 'timestamp'
          ? values.map((v) => (v === null ? null : BigInt(v as number) * 1000n))
          : values;
    return { name: spec.name, data };
  });
  return parquetWriteBuffer({
    columnData,
    schema: parquetSchemaOf(table.schema),
    rowGroupSize,
    createdBy: 'loan-decision-api sample-data generator',
  });
}

/** Generates and writes the three files into `outDir`; returns what was written. */
export async function writeSampleData(
  outDir: string,
  options: SampleDataOptions = {},
): Promise<{ file: string; rows: number; bytes: number }[]> {
  await mkdir(outDir, { recursive: true });
  const written = [];
  for (const table of generateSampleTables(options)) {
    const bytes = sampleTableToParquet(table, options.rowGroupSize);
    const file = path.join(outDir, table.file);
    await writeFile(file, new Uint8Array(bytes));
    written.push({ file, rows: table.rows.length, bytes: bytes.byteLength });
  }
  return written;
}
