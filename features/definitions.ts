/**
 * Feature definitions as code: the entities, the feature views, their TTLs and their Parquet
 * sources. Serving, materialization and training all read these; nothing else names a feature.
 */

export type EntityName = 'zipcode' | 'dob_ssn';
export type FeatureType = 'string' | 'int64';

export interface EntityDefinition {
  readonly name: EntityName;
  /** zipcode is an int64 in the sources; dob_ssn is `YYYYMMDD_NNNN`. */
  readonly valueType: 'int64' | 'string';
  readonly description: string;
}

export interface FeatureDefinition {
  readonly name: string;
  readonly type: FeatureType;
}

export interface ParquetSourceDefinition {
  /** File name under the source base, or a folder of that name holding many Parquet files. */
  readonly path: string;
  readonly timestampField: 'event_timestamp';
  readonly createdTimestampField: 'created_timestamp';
}

export interface FeatureViewDefinition {
  readonly name: FeatureViewName;
  readonly entity: EntityDefinition;
  /** Values older than this (relative to the read time) are reported as `stale`. */
  readonly ttlSeconds: number;
  readonly features: readonly FeatureDefinition[];
  readonly source: ParquetSourceDefinition;
}

export type FeatureViewName = 'zipcode_features' | 'credit_history';

const DAY_SECONDS = 86_400;
/** The TTL of the system this project replaces, for both views. */
export const DEFAULT_TTL_SECONDS = 3_650 * DAY_SECONDS;

export const zipcodeEntity: EntityDefinition = {
  name: 'zipcode',
  valueType: 'int64',
  description: 'US ZIP code of the applicant',
};

export const dobSsnEntity: EntityDefinition = {
  name: 'dob_ssn',
  valueType: 'string',
  description: 'Date of birth and last four digits of the SSN (YYYYMMDD_NNNN). PII: never log it.',
};

const int64 = (name: string): FeatureDefinition => ({ name, type: 'int64' });
const string = (name: string): FeatureDefinition => ({ name, type: 'string' });

export const zipcodeFeatures: FeatureViewDefinition = {
  name: 'zipcode_features',
  entity: zipcodeEntity,
  ttlSeconds: DEFAULT_TTL_SECONDS,
  features: [
    string('city'),
    string('state'),
    string('location_type'),
    int64('tax_returns_filed'),
    int64('population'),
    int64('total_wages'),
  ],
  source: {
    path: 'zipcode_table.parquet',
    timestampField: 'event_timestamp',
    createdTimestampField: 'created_timestamp',
  },
};

export const creditHistory: FeatureViewDefinition = {
  name: 'credit_history',
  entity: dobSsnEntity,
  ttlSeconds: DEFAULT_TTL_SECONDS,
  features: [
    int64('credit_card_due'),
    int64('mortgage_due'),
    int64('student_loan_due'),
    int64('vehicle_loan_due'),
    int64('hard_pulls'),
    int64('missed_payments_2y'),
    int64('missed_payments_1y'),
    int64('missed_payments_6m'),
    int64('bankruptcies'),
  ],
  source: {
    path: 'credit_history.parquet',
    timestampField: 'event_timestamp',
    createdTimestampField: 'created_timestamp',
  },
};

export const featureViews: readonly FeatureViewDefinition[] = [zipcodeFeatures, creditHistory];

export function featureViewByName(name: string): FeatureViewDefinition {
  const view = featureViews.find((v) => v.name === name);
  if (!view) {
    throw new Error(
      `unknown feature view "${name}"; known views: ${featureViews.map((v) => v.name).join(', ')}`,
    );
  }
  return view;
}

/** The loan table: the request columns of the API and the label of training. */
export const loanTable = {
  path: 'loan_table.parquet',
  requestFeatures: [
    'person_age',
    'person_income',
    'person_home_ownership',
    'person_emp_length',
    'loan_intent',
    'loan_amnt',
    'loan_int_rate',
  ],
  label: 'loan_status',
} as const;
