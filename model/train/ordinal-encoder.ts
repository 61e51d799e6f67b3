/**
 * Ordinal encoding as scikit-learn's OrdinalEncoder fits it: categories are the sorted unique
 * non-missing strings of a column (numpy sorts str by code point), and a value's code is its
 * index. Missing values encode to NaN (OrdinalEncoder's `encoded_missing_value`) and are not a
 * category. Unseen categories are the serving side's business (model/encoding.ts → -1); here they
 * only occur when validation/test rows are encoded with the training split's categories, and they
 * get the same -1 so offline metrics see what serving would.
 */

export const UNSEEN_CATEGORY = -1;

/** Code-point order, as Python compares str; JS `<` compares UTF-16 units and differs past U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++; // a surrogate pair: both strings hold the same pair here
  }
  return a.length - b.length;
}

/**
 * The categories (sorted unique values) of one column, ignoring missing values.
 *
 * @example
 * fitCategories(['RENT', 'OWN', null, 'RENT', 'MORTGAGE']); // ['MORTGAGE', 'OWN', 'RENT']
 */
export function fitCategories(values: Iterable<string | null | undefined>): string[] {
  const unique = new Set<string>();
  for (const value of values) if (value !== null && value !== undefined) unique.add(value);
  return [...unique].sort(compareCodePoints);
}

/** Codes for `values` given fitted categories: index, UNSEEN_CATEGORY, or NaN for missing. */
export function encodeCategories(
  values: ArrayLike<string | null | undefined>,
  categories: readonly string[],
): Float32Array {
  const codes = new Map(categories.map((category, code) => [category, code]));
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    out[i] = value === null || value === undefined ? NaN : (codes.get(value) ?? UNSEEN_CATEGORY);
  }
  return out;
}
