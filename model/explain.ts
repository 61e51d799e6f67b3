/**
 * Decision path → reasons a person can read: each node passed becomes the condition the applicant
 * met, with their raw value. Ordinal-encoded columns are shown as the set of categories that take
 * the same branch, because "person_home_ownership <= 1.5" means nothing to a reader.
 */
import { UNSEEN_CATEGORY_CODE } from './encoding.js';
import type { ModelArtifact, PathStep, RawRecord, Reason } from './types.js';

export const UNSEEN_CATEGORY_LABEL = '(unseen category)';

const OPERATORS: Readonly<Record<string, readonly [held: string, notHeld: string]>> = {
  BRANCH_LEQ: ['<=', '>'],
  BRANCH_LT: ['<', '>='],
  BRANCH_GTE: ['>=', '<'],
  BRANCH_GT: ['>', '<='],
  BRANCH_EQ: ['==', '!='],
  BRANCH_NEQ: ['!=', '=='],
};

export type PathExplainer = (path: readonly PathStep[], raw: RawRecord) => Reason[];

/**
 * One reason per path step, in path order.
 *
 * @example
 * explainPath(artifact, prediction.path, { loan_int_rate: 16.02, person_home_ownership: 'RENT' });
 * // [{ feature: 'loan_int_rate', condition: 'loan_int_rate > 15.5', value: 16.02 }, ...]
 */
export function explainPath(
  artifact: ModelArtifact,
  path: readonly PathStep[],
  raw: RawRecord,
): Reason[] {
  return createPathExplainer(artifact)(path, raw);
}

/**
 * explainPath for repeated use on one artifact: a model has few distinct nodes, so each
 * condition's text is built once and reused (formatting floats is the slow part of explaining).
 */
export function createPathExplainer(artifact: ModelArtifact): PathExplainer {
  // feature index → threshold → mode → condition text per (held, unseen): numeric Map keys
  // avoid turning thresholds into strings on every request.
  const cache = artifact.featureNames.map(
    () => new Map<number, Map<string, (string | undefined)[]>>(),
  );
  const conditionOf = (step: PathStep): string => {
    const unseen = step.input === UNSEEN_CATEGORY_CODE;
    let byMode = cache[step.featureIndex].get(step.threshold);
    if (byMode === undefined) cache[step.featureIndex].set(step.threshold, (byMode = new Map()));
    let texts = byMode.get(step.mode);
    if (texts === undefined) byMode.set(step.mode, (texts = []));
    const slot = (step.conditionHeld ? 1 : 0) + (unseen ? 2 : 0);
    let condition = texts[slot];
    if (condition === undefined) {
      const categories = artifact.categoricalEncodings[step.feature];
      condition = categories ? categoricalCondition(step, categories) : numericCondition(step);
      texts[slot] = condition;
    }
    return condition;
  };
  return (path, raw) =>
    path.map((step) => {
      const rawValue = raw[step.feature];
      const value = rawValue === undefined ? null : rawValue;
      const condition = Number.isNaN(step.input) ? `${step.feature} is missing` : conditionOf(step);
      return { feature: step.feature, condition, value };
    });
}

function numericCondition(step: PathStep): string {
  const [held, notHeld] = OPERATORS[step.mode] ?? [step.mode, `not ${step.mode}`];
  return `${step.feature} ${step.conditionHeld ? held : notHeld} ${formatFloat32(step.threshold)}`;
}

function categoricalCondition(step: PathStep, categories: readonly string[]): string {
  const sameSide = categories.filter(
    (_, code) => compare(step.mode, code, step.threshold) === step.conditionHeld,
  );
  if (step.input === UNSEEN_CATEGORY_CODE) sameSide.unshift(UNSEEN_CATEGORY_LABEL);
  return `${step.feature} in [${sameSide.join(', ')}]`;
}

/** The node comparison for a non-NaN code (missing-value tracking only matters for NaN). */
function compare(mode: string, input: number, threshold: number): boolean {
  switch (mode) {
    case 'BRANCH_LEQ':
      return input <= threshold;
    case 'BRANCH_LT':
      return input < threshold;
    case 'BRANCH_GTE':
      return input >= threshold;
    case 'BRANCH_GT':
      return input > threshold;
    case 'BRANCH_EQ':
      return input === threshold;
    default:
      return input !== threshold;
  }
}

/** The shortest decimal that reads back (through Math.fround) as the same float32. */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return String(candidate);
  }
  return String(value);
}
