import { describe, expect, it } from 'vitest';
import { categoryCodes, createFeatureEncoder, UNSEEN_CATEGORY_CODE } from './encoding.js';
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

describe('categoryCodes', () => {
  // Long enough for the sorted lookup; ASCII, mixed case, spaces and an empty string, so every
  // branch of the binary search and JavaScript's code-unit order are exercised.
  const sorted = Array.from({ length: 300 }, (_, i) => `CITY ${String(i).padStart(3, '0')}`);
  sorted.push('', 'Zurich', 'a', 'ab', 'b');
  sorted.sort();
  const shuffled = [...sorted].reverse();

  it.each([
    ['a long sorted list (binary search)', sorted],
    ['a long unsorted list (Map)', shuffled],
    ['a short list (Map)', ['MORTGAGE', 'OTHER', 'OWN', 'RENT']],
  ])('gives every category of %s its index, and -1 to anything else', (_, categories) => {
    const codes = categoryCodes(categories);
    expect(codes.hasDuplicates).toBe(false);
    categories.forEach((category, index) => expect(codes.code(category)).toBe(index));
    for (const unseen of [
      'CITY 1000',
      'CITY',
      ' ',
      'city 001',
      'AAA',
      'zzz',
      'RENT ',
      '\u{1F600}',
    ]) {
      expect(codes.code(unseen)).toBe(UNSEEN_CATEGORY_CODE);
    }
  });

  it('finds repeated categories in long and short lists alike', () => {
    expect(categoryCodes([...sorted, 'zzz', 'zzz']).hasDuplicates).toBe(true); // sorted, repeated
    expect(categoryCodes([...shuffled, shuffled[0]]).hasDuplicates).toBe(true);
    expect(categoryCodes(['OWN', 'RENT', 'OWN']).hasDuplicates).toBe(true);
  });

  it('serves a list sorted by code point but not by UTF-16 code unit (Python vs JavaScript order)', () => {
    // U+FF61 sorts before U+1F600 by code point (Python's order) but after it by UTF-16 code
    // unit (0xD83D), so this list is not ascending for JavaScript and gets a Map.
    const categories = [...sorted, '\uFF61', '\u{1F600}'];
    const codes = categoryCodes(categories);
    expect(codes.code('\uFF61')).toBe(categories.length - 2);
    expect(codes.code('\u{1F600}')).toBe(categories.length - 1);
    expect(codes.code('CITY 123')).toBe(categories.indexOf('CITY 123'));
  });

  it('encodes through the lookup the artifact checked', () => {
    const encodeCity = createFeatureEncoder({
      version: 'test',
      featureNames: ['city'],
      categoricalEncodings: { city: sorted },
      metadata: {},
    });
    expect(encodeCity({ city: 'CITY 042' })[0]).toBe(sorted.indexOf('CITY 042'));
    expect(encodeCity({ city: 'Atlantis' })[0]).toBe(UNSEEN_CATEGORY_CODE);
  });
});
