import {
  creditHistory,
  loanTable,
  zipcodeFeatures,
  type FeatureViewDefinition,
} from '../definitions.js';
import type { ColumnSpec } from './parquet-schema.js';

/**
 * The expected columns of the three Parquet sources, derived from the feature definitions so a
 * renamed or retyped feature changes what the readers check. Entity keys and timestamps may not
 * be null (a row without them cannot be placed in time or stored); feature values may.
 */

/** entity key + features + event_timestamp + created_timestamp, as Feast's file sources. */
export function viewSourceSchema(view: FeatureViewDefinition): ColumnSpec[] {
  return [
    { name: view.entity.name, type: view.entity.valueType, nullable: false },
    ...view.features.map((feature): ColumnSpec => ({ name: feature.name, type: feature.type })),
    { name: view.source.timestampField, type: 'timestamp', nullable: false },
    { name: view.source.createdTimestampField, type: 'timestamp', nullable: false },
  ];
}

export const zipcodeTableSchema: readonly ColumnSpec[] = viewSourceSchema(zipcodeFeatures);
export const creditHistorySchema: readonly ColumnSpec[] = viewSourceSchema(creditHistory);

const requestFeatureTypes: Record<(typeof loanTable.requestFeatures)[number], ColumnSpec['type']> =
  {
    person_age: 'int64',
    person_income: 'int64',
    person_home_ownership: 'string',
    // DOUBLE in the real data, and the only columns with nulls there.
    person_emp_length: 'double',
    loan_intent: 'string',
    loan_amnt: 'int64',
    loan_int_rate: 'double',
  };

/** The loan table in file order: ids, entity keys, request features, label, timestamps. */
export const loanTableSchema: readonly ColumnSpec[] = [
  { name: 'loan_id', type: 'int64', nullable: false },
  { name: 'dob_ssn', type: 'string', nullable: false },
  { name: 'zipcode', type: 'int64', nullable: false },
  ...loanTable.requestFeatures.map((name): ColumnSpec => ({
    name,
    type: requestFeatureTypes[name],
  })),
  { name: loanTable.label, type: 'int64', nullable: false },
  { name: 'event_timestamp', type: 'timestamp', nullable: false },
  { name: 'created_timestamp', type: 'timestamp', nullable: false },
];
