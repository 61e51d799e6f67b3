import type { SeededRandom } from './seeded-random.js';

/**
 * Applicants and their credit-history snapshots for the sample data. A latent risk drives both the
 * credit features and (in sample-data.ts) the interest rate and the default, so features carry
 * real signal; snapshots evolve over time so that a point-in-time join gives different answers
 * than "latest row".
 */

export interface CreditSnapshot {
  dob_ssn: string;
  credit_card_due: number;
  mortgage_due: number;
  student_loan_due: number;
  vehicle_loan_due: number;
  hard_pulls: number;
  missed_payments_2y: number;
  missed_payments_1y: number;
  missed_payments_6m: number;
  bankruptcies: number;
  event_timestamp: number;
  created_timestamp: number;
}

export interface Applicant {
  dob_ssn: string;
  /** Latent credit risk, standard normal. */
  risk: number;
  birth: number;
  homeOwnership: string;
  /** Snapshots in event order. */
  snapshots: CreditSnapshot[];
}

export const EXAMPLE_DOB_SSN = '19630621_4278';

export const FEATURE_START = Date.UTC(2024, 0, 1);
export const FEATURE_END = Date.UTC(2026, 5, 30, 23, 59, 59);
const DAY = 86_400_000;

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

export function dobSsn(birth: number, ssn4: number): string {
  const date = new Date(birth);
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}_${pad(ssn4, 4)}`;
}

/** Draws a snapshot around the applicant's latent state; later snapshots drift from earlier ones. */
function drawSnapshot(
  random: SeededRandom,
  applicant: Applicant,
  previous: CreditSnapshot | undefined,
  eventTimestamp: number,
): CreditSnapshot {
  const { risk } = applicant;
  const drift = (value: number, cap: number) =>
    Math.min(cap, Math.max(0, Math.round(value * random.uniform(0.75, 1.2))));
  const missed2y = Math.min(7, random.poisson(0.9 * Math.exp(0.75 * risk)));
  const missed1y = Math.min(3, Math.round(missed2y * random.uniform(0, 0.7)));
  const missed6m = Math.min(1, Math.round(missed1y * random.uniform(0, 0.6)));
  return {
    dob_ssn: applicant.dob_ssn,
    credit_card_due: previous
      ? drift(previous.credit_card_due, 10_000)
      : Math.min(10_000, Math.round(random.logNormal(2_400 * Math.exp(0.35 * risk), 0.9))),
    mortgage_due: previous
      ? drift(previous.mortgage_due, 2_000_000)
      : applicant.homeOwnership === 'MORTGAGE'
        ? Math.min(2_000_000, Math.round(random.logNormal(210_000, 0.7)))
        : 0,
    student_loan_due: previous
      ? drift(previous.student_loan_due, 50_000)
      : random.chance(0.45)
        ? Math.round(random.uniform(500, 50_000))
        : 0,
    vehicle_loan_due: previous
      ? drift(previous.vehicle_loan_due, 30_000)
      : random.chance(0.5)
        ? Math.round(random.uniform(300, 30_000))
        : 0,
    hard_pulls: Math.min(10, random.poisson(1.4 * Math.exp(0.45 * risk))),
    missed_payments_2y: missed2y,
    missed_payments_1y: missed1y,
    missed_payments_6m: missed6m,
    // A bankruptcy stays on the record: it never goes down between snapshots.
    bankruptcies: Math.max(
      previous?.bankruptcies ?? 0,
      Math.min(
        2,
        random.chance(0.04 * Math.exp(0.9 * risk)) ? 1 + (random.chance(0.3) ? 1 : 0) : 0,
      ),
    ),
    event_timestamp: eventTimestamp,
    created_timestamp: eventTimestamp + random.int(60_000, 7_200_000),
  };
}

/**
 * 1–4 snapshots between FEATURE_START and FEATURE_END. Usually the first precedes the loan; with
 * `startAfterLoan` it follows it, so the loan has no credit history as of its own time.
 */
export function drawSnapshots(
  random: SeededRandom,
  applicant: Applicant,
  loanTimestamp: number,
  startAfterLoan: boolean,
): void {
  const count = random.weighted([
    [1, 0.2],
    [2, 0.35],
    [3, 0.3],
    [4, 0.15],
  ] as const);
  let at = startAfterLoan
    ? random.uniform(loanTimestamp + DAY, FEATURE_END)
    : random.uniform(FEATURE_START, Math.min(loanTimestamp, FEATURE_END));
  let previous: CreditSnapshot | undefined;
  for (let i = 0; i < count && at <= FEATURE_END; i++) {
    previous = drawSnapshot(random, applicant, previous, Math.floor(at));
    applicant.snapshots.push(previous);
    at += random.uniform(30, 240) * DAY;
  }
}

/** The latest snapshot at or before `timestamp` (a point-in-time lookup), if any. */
export function snapshotAsOf(applicant: Applicant, timestamp: number): CreditSnapshot | undefined {
  let found: CreditSnapshot | undefined;
  for (const snapshot of applicant.snapshots)
    if (snapshot.event_timestamp <= timestamp) found = snapshot;
  return found;
}

/** The example applicant of the API docs: three snapshots, the last one in June 2026. */
export function exampleApplicantSnapshots(random: SeededRandom, applicant: Applicant): void {
  let previous: CreditSnapshot | undefined;
  for (const at of [
    Date.UTC(2024, 2, 15, 9, 30),
    Date.UTC(2025, 4, 20, 14, 5),
    Date.UTC(2026, 5, 15, 10, 45),
  ]) {
    previous = drawSnapshot(random, applicant, previous, at);
    applicant.snapshots.push(previous);
  }
}

/** A correction: same event time, created later, one missed payment fewer (a disputed entry). */
export function correctionOf(random: SeededRandom, snapshot: CreditSnapshot): CreditSnapshot {
  return {
    ...snapshot,
    missed_payments_2y: Math.max(0, snapshot.missed_payments_2y - 1),
    missed_payments_1y: Math.max(
      0,
      Math.min(snapshot.missed_payments_1y, snapshot.missed_payments_2y - 1),
    ),
    missed_payments_6m: Math.max(
      0,
      Math.min(snapshot.missed_payments_6m, snapshot.missed_payments_2y - 1),
    ),
    created_timestamp: snapshot.created_timestamp + random.int(1, 3) * DAY,
  };
}
