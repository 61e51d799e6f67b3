import type { S3Client } from '@aws-sdk/client-s3';
import {
  creditHistory,
  zipcodeFeatures,
  type FeatureViewDefinition,
} from '../../features/definitions.js';
import {
  EXAMPLE_APPLICANT,
  generateSampleTables,
  sampleTableToParquet,
  type SampleRow,
} from '../../features/offline/sample-data.js';
import { uploadFiles } from '../harness/s3rver.js';
import { DYNAMODB_ONLY_ZIPCODE } from './applicants.js';

/**
 * The Parquet source the Worker materializes in its tests (Node side, run by the global setup):
 * small generated tables with small row groups, so one window fans out into several units.
 * ZIP codes the serving tests own are left out: both suites share one Redis and one table, and
 * the materialization must not change what those tests expect.
 */

export const MATERIALIZE_BUCKET = 'worker-features';
export const MATERIALIZE_PREFIX = 'feast';
/** The cron's scheduled time in the tests: after every generated row, within the 10-year TTL. */
export const SCHEDULED_TIME = Date.parse('2026-07-01T00:00:00Z');
const ROW_GROUP_SIZE = 25;
const SERVING_TEST_ZIPCODES = new Set([76104, DYNAMODB_ONLY_ZIPCODE]);

export interface MaterializedApplicant {
  readonly dobSsn: string;
  readonly zipcode: number;
  /** The latest row of each view at SCHEDULED_TIME: what serving must answer after the run. */
  readonly features: Record<string, unknown>;
}

export async function seedMaterializationSource(s3: S3Client): Promise<MaterializedApplicant> {
  const tables = generateSampleTables({ loans: 60, zipcodes: 40, seed: 7 });
  const zipcodes = tables.find((t) => t.file === 'zipcode_table.parquet')!;
  const credit = tables.find((t) => t.file === 'credit_history.parquet')!;
  const zipcodeRows = zipcodes.rows.filter(
    (row) => !SERVING_TEST_ZIPCODES.has(row.zipcode as number),
  );
  await uploadFiles(s3, MATERIALIZE_BUCKET, {
    [`${MATERIALIZE_PREFIX}/zipcode_table.parquet`]: new Uint8Array(
      sampleTableToParquet({ ...zipcodes, rows: zipcodeRows }, ROW_GROUP_SIZE),
    ),
    [`${MATERIALIZE_PREFIX}/credit_history.parquet`]: new Uint8Array(
      sampleTableToParquet(credit, ROW_GROUP_SIZE),
    ),
  });

  // The example applicant has several credit snapshots (and corrections); its ZIP code is a
  // serving-test one, so pair it with the last generated ZIP code instead.
  const dobSsn = EXAMPLE_APPLICANT.dob_ssn;
  const zipcode = zipcodeRows[zipcodeRows.length - 1].zipcode as number;
  return {
    dobSsn,
    zipcode,
    features: {
      ...latestValues(credit.rows, creditHistory, (row) => row.dob_ssn === dobSsn),
      ...latestValues(zipcodeRows, zipcodeFeatures, (row) => row.zipcode === zipcode),
    },
  };
}

/** Feast's rule, computed independently of the materializer: latest event, then latest created. */
function latestValues(
  rows: readonly SampleRow[],
  view: FeatureViewDefinition,
  isEntity: (row: SampleRow) => boolean,
): Record<string, unknown> {
  const candidates = rows.filter(
    (row) => isEntity(row) && (row.event_timestamp as number) <= SCHEDULED_TIME,
  );
  if (candidates.length === 0) throw new Error(`no ${view.name} row for the test applicant`);
  const latest = candidates.reduce((best, row) =>
    (row.event_timestamp as number) > (best.event_timestamp as number) ||
    (row.event_timestamp === best.event_timestamp &&
      (row.created_timestamp as number) > (best.created_timestamp as number))
      ? row
      : best,
  );
  return Object.fromEntries(view.features.map((feature) => [feature.name, latest[feature.name]]));
}
