/**
 * Feature records for store tests: realistic values of both views, with explicit timestamps.
 */
import { randomBytes } from 'node:crypto';
import { creditHistory, zipcodeFeatures } from '../../features/definitions.js';
import type { FeatureRecord, FeatureValue } from '../../features/online/types.js';

export const DAY_MS = 86_400_000;

/** A key prefix no other test run shares, so stores can be reused without cleanup races. */
export function uniquePrefix(label = 'test'): string {
  return `${label}:${randomBytes(4).toString('hex')}:`;
}

export function zipcodeRecord(
  zipcode: number,
  eventTimestamp: number,
  createdTimestamp = eventTimestamp,
  values: Record<string, FeatureValue> = {},
): FeatureRecord {
  return {
    view: zipcodeFeatures,
    entityKey: zipcode,
    eventTimestamp,
    createdTimestamp,
    values: {
      city: 'FORT WORTH',
      state: 'TX',
      location_type: 'PRIMARY',
      tax_returns_filed: 9_260,
      population: 16_013,
      total_wages: 203_102_512,
      ...values,
    },
  };
}

export function creditRecord(
  dobSsn: string,
  eventTimestamp: number,
  createdTimestamp = eventTimestamp,
  values: Record<string, FeatureValue> = {},
): FeatureRecord {
  return {
    view: creditHistory,
    entityKey: dobSsn,
    eventTimestamp,
    createdTimestamp,
    values: {
      credit_card_due: 8_419,
      mortgage_due: 91_803,
      student_loan_due: 22_328,
      vehicle_loan_due: 15_078,
      hard_pulls: 0,
      missed_payments_2y: 1,
      missed_payments_1y: 0,
      missed_payments_6m: 0,
      bankruptcies: 0,
      ...values,
    },
  };
}
