import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL_SECONDS } from '../../features/definitions.js';
import { predictProbabilities, trainDecisionTree } from './cart.js';
import { encodeFeatureColumns, fitEncodings } from './feature-matrix.js';
import { exportArtifact } from './onnx-export.js';
import { buildTrainingSet } from './training-set.js';
import type { TrainingTables } from './training-tables.js';
import { ArtifactMismatchError, verifyArtifact } from './verify-artifact.js';

const DAY = 86_400_000;
const T = Date.UTC(2021, 5, 1);
const creditColumns = [
  'credit_card_due',
  'mortgage_due',
  'student_loan_due',
  'vehicle_loan_due',
  'hard_pulls',
  'missed_payments_2y',
  'missed_payments_1y',
  'missed_payments_6m',
  'bankruptcies',
];

/** Six loans: two without credit history (unknown key; only a later row), one with a stale zipcode row. */
function tables(): TrainingTables {
  const loans = 6;
  const f64 = (values: number[]) => Float64Array.from(values);
  return {
    loans: {
      location: 'loan_table.parquet',
      rows: loans,
      columns: {
        loan_id: f64([1, 2, 3, 4, 5, 6]),
        dob_ssn: ['a', 'b', 'c', 'zz', 'late', 'd'],
        zipcode: f64([10, 10, 20, 10, 10, 30]),
        person_age: f64([30, 40, 50, 60, 70, 80]),
        person_income: f64([1e4, 2e4, 3e4, 4e4, 5e4, 6e4]),
        person_home_ownership: ['RENT', 'OWN', null, 'RENT', 'RENT', 'MORTGAGE'],
        person_emp_length: f64([1, NaN, 3, 4, 5, 6]),
        loan_intent: ['PERSONAL', 'EDUCATION', 'MEDICAL', 'PERSONAL', 'PERSONAL', 'VENTURE'],
        loan_amnt: f64([1000, 2000, 3000, 4000, 5000, 6000]),
        loan_int_rate: f64([10.5, 11.5, NaN, 13.5, 14.5, 15.5]),
        loan_status: f64([0, 1, 0, 1, 0, 1]),
        event_timestamp: f64(Array(loans).fill(T)),
        created_timestamp: f64(Array(loans).fill(T)),
      },
    },
    zipcodes: {
      location: 'zipcode_table.parquet',
      rows: 3,
      columns: {
        zipcode: f64([10, 20, 30]),
        city: ['X', 'Y', 'Z'],
        state: ['TX', 'NY', 'CA'],
        location_type: ['PRIMARY', 'PRIMARY', 'PRIMARY'],
        tax_returns_filed: f64([1, 2, 3]),
        population: f64([10, 20, 30]),
        total_wages: f64([100, 200, 300]),
        event_timestamp: f64([T - DAY, T - DAY, T - DEFAULT_TTL_SECONDS * 1000 - DAY]),
        created_timestamp: f64([T - DAY, T - DAY, T - DAY]),
      },
    },
    creditHistory: {
      location: 'credit_history.parquet',
      rows: 5,
      columns: {
        dob_ssn: ['a', 'b', 'c', 'late', 'd'],
        ...Object.fromEntries(
          creditColumns.map((name, k) => [name, f64([k, k + 1, k + 2, k + 3, k + 4])]),
        ),
        event_timestamp: f64([T - DAY, T - 2 * DAY, T, T + 1, T - DAY]),
        created_timestamp: f64([T, T, T, T, T]),
      },
    },
  };
}

describe('buildTrainingSet', () => {
  it('keeps loans with a row in every view, reports the rest, and orders features by name', () => {
    const set = buildTrainingSet(tables());
    expect(set.loansRead).toBe(6);
    expect([...set.labels]).toEqual([0, 1, 0]); // loans 1, 2, 3
    expect(set.dropped).toEqual([
      { view: 'zipcode_features', loans: 1, reason: 'latest row older than the TTL (3650 days)' },
      { view: 'credit_history', loans: 1, reason: 'no dob_ssn row at all' },
      {
        view: 'credit_history',
        loans: 1,
        reason: 'only rows dated after the loan (no future leakage)',
      },
    ]);
    expect(set.featureNames).toEqual([...set.featureNames].sort());
    expect(set.featureNames).toHaveLength(22);
    for (const excluded of [
      'loan_id',
      'dob_ssn',
      'zipcode',
      'event_timestamp',
      'created_timestamp',
      'loan_status',
    ]) {
      expect(set.featureNames).not.toContain(excluded);
    }
    expect(set.categoricalFeatures).toEqual([
      'city',
      'loan_intent',
      'location_type',
      'person_home_ownership',
      'state',
    ]);
    expect(set.columns.city).toEqual(['X', 'X', 'Y']);
    expect([...(set.columns.hard_pulls as Float64Array)]).toEqual([4, 5, 6]);
    expect(set.columns.person_home_ownership).toEqual(['RENT', 'OWN', null]);
  });
});

describe('verifyArtifact', () => {
  it("accepts the trainer's own predictions and fails on any disagreement", async () => {
    const set = buildTrainingSet(tables());
    const rows = Int32Array.of(0, 1, 2);
    const encodings = fitEncodings(set, rows);
    const columns = encodeFeatureColumns(set, rows, encodings);
    const tree = trainDecisionTree({ columns, labels: set.labels }, { seed: 1 });
    const { bytes } = exportArtifact({
      tree,
      featureNames: set.featureNames,
      categoricalEncodings: encodings,
      metadata: {},
    });
    const probabilities = predictProbabilities(tree, columns);
    await expect(verifyArtifact(bytes, set, rows, columns, probabilities)).resolves.toMatchObject({
      rows: 3,
    });
    const wrong = probabilities.slice();
    wrong[1] = 1 - wrong[1];
    await expect(verifyArtifact(bytes, set, rows, columns, wrong)).rejects.toThrow(
      ArtifactMismatchError,
    );
    const slightlyOff = probabilities.slice();
    slightlyOff[2] += 1e-6;
    await expect(verifyArtifact(bytes, set, rows, columns, slightlyOff)).rejects.toThrow(
      /training row 2/,
    );
  });
});
