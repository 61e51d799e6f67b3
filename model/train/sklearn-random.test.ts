import { describe, expect, it } from 'vitest';
import { MersenneTwister, numpyPermutation, SklearnRandR } from './sklearn-random.js';

// Expected values printed by numpy 2.4 / 1.24:
//   np.random.RandomState(s).randint(0, 2**31 - 1) and np.random.RandomState(s).permutation(n)
describe('numpy RandomState streams', () => {
  it.each([
    [0, 209652396],
    [1, 1791095845],
    [42, 1608637542],
  ])('RandomState(%i).randint(0, 2**31 - 1) = %i', (seed, expected) => {
    expect(new MersenneTwister(seed).randint(2 ** 31 - 1)).toBe(expected);
  });

  it('reproduces np.random.RandomState(seed).permutation(n)', () => {
    expect([...numpyPermutation(10, 7)]).toEqual([8, 5, 0, 2, 1, 9, 7, 3, 6, 4]);
    expect([...numpyPermutation(20, 0)]).toEqual([
      18, 1, 19, 8, 10, 17, 6, 13, 4, 2, 5, 14, 9, 7, 16, 11, 3, 0, 15, 12,
    ]);
  });

  it('draws sklearn rand_int values inside [low, high) and repeats them for a seed', () => {
    const a = new SklearnRandR(3);
    const b = new SklearnRandR(3);
    for (let i = 0; i < 1000; i++) {
      const value = a.randInt(2, 9);
      expect(value).toBeGreaterThanOrEqual(2);
      expect(value).toBeLessThan(9);
      expect(b.randInt(2, 9)).toBe(value);
    }
  });

  it('rejects seeds numpy rejects', () => {
    expect(() => new MersenneTwister(-1)).toThrow(/seed/);
    expect(() => new MersenneTwister(2 ** 32)).toThrow(/seed/);
  });
});
