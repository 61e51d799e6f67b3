import type { Applicant, CreditSnapshot } from './sample-applicants.js';
import type { SeededRandom } from './seeded-random.js';

/**
 * How a sample loan's terms and its default are drawn. The default follows the features known at
 * loan time (rate, loan-to-income, home ownership, intent, missed payments, bankruptcies, hard
 * pulls, card debt, employment) plus unobserved risk, with effect sizes read off the real data.
 */

export type SampleRow = Record<string, number | string | null>;

/** Share of defaults in the real loan table (6,203 of 28,638). */
export const TARGET_DEFAULT_RATE = 0.2166;

export const homeOwnershipEffect: Record<string, number> = {
  RENT: 0.75,
  OWN: -1.1,
  MORTGAGE: -0.35,
  OTHER: 0.6,
};
export const intents = [
  ['EDUCATION', 0.199],
  ['MEDICAL', 0.185],
  ['VENTURE', 0.175],
  ['PERSONAL', 0.17],
  ['DEBTCONSOLIDATION', 0.159],
  ['HOMEIMPROVEMENT', 0.112],
] as const;
export const intentEffect: Record<string, number> = {
  EDUCATION: -0.1,
  MEDICAL: 0.35,
  VENTURE: -0.35,
  PERSONAL: 0,
  DEBTCONSOLIDATION: 0.4,
  HOMEIMPROVEMENT: 0.3,
};

/** Real rates are right-skewed between a 5.42 floor and 23.22: 11 ± 3.3 below, ± 3.7 above. */
export function interestRate(riskScore: number): number {
  const rate = 11 + riskScore * (riskScore < 0 ? 3.3 : 3.7);
  return Math.round(Math.min(23.22, Math.max(5.42, rate)) * 100) / 100;
}

export function roundMoney(random: SeededRandom, value: number): number {
  const r = random.next();
  if (r < 0.6) return Math.max(1000, Math.round(value / 1000) * 1000);
  if (r < 0.9) return Math.round(value / 100) * 100;
  return Math.round(value);
}

/** Default probability's linear part without the intercept; the intercept is calibrated afterwards. */
export function defaultLogit(
  loan: SampleRow,
  credit: CreditSnapshot | undefined,
  applicant: Applicant,
): number {
  const rate = (loan.loan_int_rate as number | null) ?? 11;
  const loanToIncome = (loan.loan_amnt as number) / (loan.person_income as number);
  const c = credit ?? {
    missed_payments_1y: 0,
    missed_payments_6m: 0,
    bankruptcies: 0,
    hard_pulls: 1,
    credit_card_due: 2000,
  };
  return (
    0.3 * (rate - 11) +
    5 * loanToIncome +
    (loanToIncome > 0.3 ? 1.8 : 0) +
    homeOwnershipEffect[loan.person_home_ownership as string] +
    intentEffect[loan.loan_intent as string] +
    0.3 * c.missed_payments_1y +
    0.6 * c.missed_payments_6m +
    0.55 * c.bankruptcies +
    0.06 * c.hard_pulls +
    0.25 * (c.credit_card_due / 10_000) -
    0.03 * Math.min((loan.person_emp_length as number | null) ?? 0, 30) +
    // Unobserved risk: what the features cannot see, so no model is perfect.
    0.35 * applicant.risk
  );
}

export function calibratedIntercept(logits: Float64Array): number {
  let low = -15;
  let high = 15;
  for (let step = 0; step < 60; step++) {
    const mid = (low + high) / 2;
    let sum = 0;
    for (const x of logits) sum += 1 / (1 + Math.exp(-(mid + x)));
    if (sum / logits.length > TARGET_DEFAULT_RATE) high = mid;
    else low = mid;
  }
  return (low + high) / 2;
}
