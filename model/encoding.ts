/**
 * Raw feature values → the model's float input row, in `feature_names` order. Categorical columns
 * follow scikit-learn OrdinalEncoder (`handle_unknown='use_encoded_value'`): the code is the index
 * in `categorical_encodings[column]`.
 */
import type { ModelArtifact, RawRecord, RawValue } from './types.js';

/** Code of a category the model never saw (OrdinalEncoder `unknown_value=-1`). */
export const UNSEEN_CATEGORY_CODE = -1;

export type FeatureEncoder = (raw: RawRecord, out?: Float32Array) => Float32Array;

/**
 * Builds the encoder once per artifact; each call only fills (or allocates) the output row.
 * Missing values (null / undefined) → NaN, an unseen category → UNSEEN_CATEGORY_CODE, a numeric
 * column's value → Number(value) when finite (numeric strings included), else NaN.
 *
 * @example
 * const encode = createFeatureEncoder(artifact);
 * const row = encode({ person_home_ownership: 'RENT', loan_int_rate: 16.02 });
 */
export function createFeatureEncoder(artifact: ModelArtifact): FeatureEncoder {
  const names = artifact.featureNames.slice();
  const codeMaps = names.map((name) => {
    const categories = artifact.categoricalEncodings[name];
    return categories ? categoryCodes(categories) : undefined;
  });
  const width = names.length;

  return (raw, out = new Float32Array(width)) => {
    if (out.length < width) {
      throw new RangeError(
        `feature row buffer holds ${out.length} values; the model needs ${width}`,
      );
    }
    for (let i = 0; i < width; i++) {
      const value = raw[names[i]];
      const codes = codeMaps[i];
      if (value === null || value === undefined) out[i] = NaN;
      else if (codes !== undefined) out[i] = codes.code(String(value));
      else out[i] = toFiniteNumber(value);
    }
    return out;
  };
}

/** Category → code (its index in the column's list), or UNSEEN_CATEGORY_CODE. */
export interface CategoryCodes {
  code(category: string): number;
  /** Whether some category is listed twice (the artifact refuses such a list). */
  readonly hasDuplicates: boolean;
}

/**
 * Lists at least this long are looked up by binary search when they are sorted. Shorter ones
 * always get a Map: building it costs nothing worth saving.
 */
const SORTED_LOOKUP_MIN_CATEGORIES = 64;

const codesByCategories = new WeakMap<readonly string[], CategoryCodes>();

/**
 * The lookup of one column's categories, built once per category list: loadModelArtifact checks
 * the list with it and the encoder reuses it.
 *
 * scikit-learn's OrdinalEncoder sorts the categories it learns, so a long list (the model's
 * 5,480 cities) is usually sorted, and then it is searched in place: checking the order costs
 * about half of hashing every city into a Map (the bundled loadModel went from 9.2 to 8.0 ms on
 * the benchmark VM), and a lookup costs ~0.2 µs more than a Map's (13 comparisons). A list
 * that is not strictly ascending in JavaScript's string order (UTF-16 code units, which can
 * differ from Python's code point order beyond U+FFFF) gets a Map, so every list is served.
 */
export function categoryCodes(categories: readonly string[]): CategoryCodes {
  let codes = codesByCategories.get(categories);
  if (codes === undefined) {
    codes =
      categories.length >= SORTED_LOOKUP_MIN_CATEGORIES && strictlyAscending(categories)
        ? sortedCodes(categories)
        : mapCodes(categories);
    codesByCategories.set(categories, codes);
  }
  return codes;
}

function strictlyAscending(categories: readonly string[]): boolean {
  for (let i = 1; i < categories.length; i++) {
    if (!(categories[i - 1] < categories[i])) return false;
  }
  return true;
}

/** Strictly ascending, so no category repeats. */
function sortedCodes(categories: readonly string[]): CategoryCodes {
  return {
    hasDuplicates: false,
    code(category) {
      let low = 0;
      let high = categories.length - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const candidate = categories[middle];
        if (candidate < category) low = middle + 1;
        else if (candidate > category) high = middle - 1;
        else return middle;
      }
      return UNSEEN_CATEGORY_CODE;
    },
  };
}

function mapCodes(categories: readonly string[]): CategoryCodes {
  const byCategory = new Map<string, number>();
  // A loop rather than new Map(categories.map(...)): no [category, code] pair per entry. The
  // first index of a repeated category wins, as in a search of the list.
  for (let code = categories.length - 1; code >= 0; code--) byCategory.set(categories[code], code);
  return {
    hasDuplicates: byCategory.size !== categories.length,
    code: (category) => byCategory.get(category) ?? UNSEEN_CATEGORY_CODE,
  };
}

function toFiniteNumber(value: Exclude<RawValue, null | undefined>): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value !== 'string') return NaN; // records from JSON stores may hold booleans, objects
  // Stores hand numbers back as strings (Redis hashes); '' and '  ' must not become 0.
  if (value.trim() === '') return NaN;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : NaN;
}
