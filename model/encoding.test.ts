import { describe, expect, it } from 'vitest';
import { createFeatureEncoder, UNSEEN_CATEGORY_CODE } from './encoding.js';
import type { ModelArtifact } from './types.js';

const artifact: ModelArtifact = {
  version: 'test',
  featureNames: ['loan_amnt', 'person_home_ownership', 'loan_int_rate', 'loan_intent'],
  categoricalEncodings: {
    person_home_ownership: ['MORTGAGE', 'OTHER', 'OWN', 'RENT'],
    loan_intent: ['EDUCATION', 'PERSONAL'],
  },
  metadata: {},
};
const encode = createFeatureEncoder(artifact);

describe('createFeatureEncoder', () => {
  it('writes feature_names order; categories become their index (OrdinalEncoder codes)', () => {
    const row = encode({
      loan_intent: 'PERSONAL',
      loan_int_rate: 16.02,
      person_home_ownership: 'RENT',
      loan_amnt: 35000,
    });
    expect(Array.from(row)).toEqual([35000, 3, Math.fround(16.02), 1]);
  });

  it('encodes an unseen category as UNSEEN_CATEGORY_CODE (-1), never throwing', () => {
    expect(UNSEEN_CATEGORY_CODE).toBe(-1);
    const row = encode({ person_home_ownership: 'CASTLE', loan_intent: 'rent' });
    expect(row[1]).toBe(-1);
    expect(row[3]).toBe(-1); // categories are case-sensitive, as in scikit-learn
  });

  it('encodes missing values (null, undefined, absent) as NaN for both kinds of column', () => {
    const row = encode({ loan_amnt: null, person_home_ownership: undefined });
    expect(Array.from(row).every(Number.isNaN)).toBe(true);
  });

  it.each([
    ['a numeric string', '35000.5', 35000.5],
    ['an empty string', '', NaN],
    ['a non-numeric string', 'lots', NaN],
    ['Infinity', Infinity, NaN],
    ['NaN', NaN, NaN],
    ['a negative number', -3, -3],
  ])('numeric column given %s', (_, value, expected) => {
    expect(encode({ loan_amnt: value })[0]).toBe(expected);
  });

  it('rounds numbers to float32 exactly as the float input tensor does', () => {
    expect(encode({ loan_int_rate: 0.1 })[2]).toBe(Math.fround(0.1));
  });

  it('fills a caller-supplied row buffer, overwriting old values', () => {
    const out = new Float32Array(4).fill(7);
    const row = encode({ loan_amnt: 1 }, out);
    expect(row).toBe(out);
    expect(Array.from(out)).toEqual([1, NaN, NaN, NaN]);
    expect(() => encode({}, new Float32Array(3))).toThrow(/holds 3 values; the model needs 4/);
  });
});
