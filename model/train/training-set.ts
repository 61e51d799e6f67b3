import { featureViews, loanTable, type FeatureViewDefinition } from '../../features/definitions.js';
import { loanTableSchema } from '../../features/offline/parquet-table.js';
import {
  pointInTimeJoin,
  type PointInTimeJoinResult,
} from '../../features/offline/point-in-time-join.js';
import type { Table, TrainingTables } from './training-tables.js';
import { compareCodePoints } from './ordinal-encoder.js';

/**
 * The point-in-time correct training frame: one row per loan that has a row in EVERY feature view
 * as of its event time. Loans missing a view are dropped, not imputed: serving answers such an
 * applicant with "unknown applicant" instead of a decision, so the model never scores that
 * population and must not learn from it. Missing values inside a present row (null employment
 * length or interest rate) stay NaN and the tree routes them.
 */
export interface TrainingSet {
  /** Sorted by name, as the replaced system's `reindex(sorted(columns), axis=1)`. */
  readonly featureNames: readonly string[];
  /** Names among featureNames whose values are strings (ordinal-encoded). */
  readonly categoricalFeatures: readonly string[];
  /** Per feature name: numbers (NaN = missing) or strings (null = missing), one per kept loan. */
  readonly columns: Readonly<Record<string, Float64Array | (string | null)[]>>;
  readonly labels: Uint8Array;
  /** Event time (epoch ms) per kept loan. */
  readonly eventTimestamps: Float64Array;
  readonly loansRead: number;
  readonly dropped: readonly DroppedLoans[];
  readonly joins: Readonly<Record<string, PointInTimeJoinResult>>;
  /** Wall time of the point-in-time joins alone (all views). */
  readonly joinMs: number;
}

export interface DroppedLoans {
  readonly view: string;
  readonly loans: number;
  readonly reason: string;
}

const EXCLUDED = new Set([
  'loan_id',
  'dob_ssn',
  'zipcode',
  'event_timestamp',
  'created_timestamp',
  loanTable.label,
]);

/**
 * Joins every feature view onto the loans as of each loan's event time and assembles the frame.
 *
 * @example
 * const set = buildTrainingSet(await readTrainingTables('features/sample'));
 */
export function buildTrainingSet(tables: TrainingTables): TrainingSet {
  const { loans } = tables;
  const loanTimes = loans.columns.event_timestamp as Float64Array;
  const joins: Record<string, PointInTimeJoinResult> = {};
  const keep = new Uint8Array(loans.rows).fill(1);
  const dropped: DroppedLoans[] = [];
  const joinStart = performance.now();
  for (const view of featureViews) {
    const source = viewTable(tables, view);
    const join = pointInTimeJoin(
      {
        keys: loans.columns[view.entity.name] as ArrayLike<string | number>,
        eventTimestamps: loanTimes,
      },
      {
        keys: source.columns[view.entity.name] as ArrayLike<string | number>,
        eventTimestamps: source.columns[view.source.timestampField] as Float64Array,
        createdTimestamps: source.columns[view.source.createdTimestampField] as Float64Array,
      },
      view.ttlSeconds,
    );
    joins[view.name] = join;
    for (let i = 0; i < loans.rows; i++) if (join.featureRowIndex[i] < 0) keep[i] = 0;
    const ttlDays = view.ttlSeconds / 86_400;
    if (join.keyNotFound)
      dropped.push({
        view: view.name,
        loans: join.keyNotFound,
        reason: `no ${view.entity.name} row at all`,
      });
    if (join.onlyFutureRows)
      dropped.push({
        view: view.name,
        loans: join.onlyFutureRows,
        reason: 'only rows dated after the loan (no future leakage)',
      });
    if (join.outsideTtl)
      dropped.push({
        view: view.name,
        loans: join.outsideTtl,
        reason: `latest row older than the TTL (${ttlDays} days)`,
      });
  }

  const joinMs = performance.now() - joinStart;
  const kept: number[] = [];
  for (let i = 0; i < loans.rows; i++) if (keep[i]) kept.push(i);

  const columns: Record<string, Float64Array | (string | null)[]> = {};
  const categorical = new Set<string>();
  const gather = (values: Float64Array | (string | null)[], rowOf: (loan: number) => number) =>
    values instanceof Float64Array
      ? Float64Array.from(kept, (loan) => values[rowOf(loan)])
      : kept.map((loan) => values[rowOf(loan)]);

  for (const name of loanTable.requestFeatures) {
    columns[name] = gather(loans.columns[name] as Float64Array | (string | null)[], (loan) => loan);
    if (loanTableSchema.find((spec) => spec.name === name)?.type === 'string')
      categorical.add(name);
  }
  for (const view of featureViews) {
    const source = viewTable(tables, view);
    const rowIndex = joins[view.name].featureRowIndex;
    for (const feature of view.features) {
      if (EXCLUDED.has(feature.name) || feature.name in columns) {
        throw new Error(
          `feature "${feature.name}" of view ${view.name} collides with a loan column or another view`,
        );
      }
      columns[feature.name] = gather(
        source.columns[feature.name] as Float64Array | (string | null)[],
        (loan) => rowIndex[loan],
      );
      if (feature.type === 'string') categorical.add(feature.name);
    }
  }
  const featureNames = Object.keys(columns).sort(compareCodePoints);
  const labelColumn = loans.columns[loanTable.label] as Float64Array;
  return {
    featureNames,
    categoricalFeatures: featureNames.filter((name) => categorical.has(name)),
    columns,
    labels: Uint8Array.from(kept, (loan) => labelColumn[loan]),
    eventTimestamps: Float64Array.from(kept, (loan) => loanTimes[loan]),
    loansRead: loans.rows,
    dropped,
    joins,
    joinMs,
  };
}

function viewTable(tables: TrainingTables, view: FeatureViewDefinition): Table {
  if (view.name === 'zipcode_features') return tables.zipcodes;
  if (view.name === 'credit_history') return tables.creditHistory;
  throw new Error(`no training table for feature view ${view.name}`);
}
