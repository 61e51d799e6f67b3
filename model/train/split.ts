import { numpyPermutation } from './sklearn-random.js';

export interface SplitFractions {
  readonly validation: number;
  readonly test: number;
}

export interface DataSplit {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly test: Int32Array;
}

/**
 * Seeded train / validation / test split of row indices. The permutation is
 * `np.random.RandomState(seed).permutation(rows)`, so the split can be rebuilt in Python; test
 * takes the first ceil(test × rows) indices, validation the next ceil(validation × rows), train the
 * rest (each part sorted, so rows keep their file order).
 *
 * @example
 * const { train, validation, test } = splitRows(1000, 42); // 700 / 150 / 150
 */
export function splitRows(
  rows: number,
  seed: number,
  fractions: SplitFractions = { validation: 0.15, test: 0.15 },
): DataSplit {
  const permutation = numpyPermutation(rows, seed);
  const testCount = Math.ceil(fractions.test * rows);
  const validationCount = Math.ceil(fractions.validation * rows);
  const part = (from: number, to: number) => permutation.slice(from, to).sort();
  return {
    test: part(0, testCount),
    validation: part(testCount, testCount + validationCount),
    train: part(testCount + validationCount, rows),
  };
}
