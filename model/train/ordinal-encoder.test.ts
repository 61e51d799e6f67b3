import { describe, expect, it } from 'vitest';
import {
  compareCodePoints,
  encodeCategories,
  fitCategories,
  UNSEEN_CATEGORY,
} from './ordinal-encoder.js';

describe('ordinal encoder (scikit-learn OrdinalEncoder categories_)', () => {
  it('sorts the unique values, ignoring missing ones', () => {
    // OrdinalEncoder().fit([['RENT'], ['OWN'], ['MORTGAGE'], ['OTHER']]).categories_ (sklearn 1.2.1)
    expect(fitCategories(['RENT', 'OWN', null, 'RENT', 'MORTGAGE', undefined, 'OTHER'])).toEqual([
      'MORTGAGE',
      'OTHER',
      'OWN',
      'RENT',
    ]);
    expect(
      fitCategories([
        'VENTURE',
        'PERSONAL',
        'EDUCATION',
        'MEDICAL',
        'HOMEIMPROVEMENT',
        'DEBTCONSOLIDATION',
      ]),
    ).toEqual([
      'DEBTCONSOLIDATION',
      'EDUCATION',
      'HOMEIMPROVEMENT',
      'MEDICAL',
      'PERSONAL',
      'VENTURE',
    ]);
  });

  it('orders by code point, as numpy sorts str (uppercase before lowercase, no locale)', () => {
    // sorted(['b', 'a', 'B', 'É', 'Z', 'é', '😀', '\uff5e']) in Python:
    expect(fitCategories(['b', 'a', 'B', 'É', 'Z', 'é', '😀', '\uff5e'])).toEqual([
      'B',
      'Z',
      'a',
      'b',
      'É',
      'é',
      '\uff5e',
      '😀',
    ]);
    // UTF-16 order would put the surrogate pair of U+1F600 before U+FF5E.
    expect(compareCodePoints('😀', '\uff5e')).toBeGreaterThan(0);
    expect(compareCodePoints('ST', 'ST LOUIS')).toBeLessThan(0);
  });

  it('encodes to the index, missing to NaN, unseen to -1', () => {
    const categories = fitCategories(['RENT', 'OWN', 'MORTGAGE']);
    const codes = encodeCategories(['RENT', 'MORTGAGE', null, 'SHARED', 'OWN'], categories);
    expect([...codes]).toEqual([2, 0, NaN, UNSEEN_CATEGORY, 1]);
  });
});
