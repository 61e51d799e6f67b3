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
      else if (codes !== undefined) out[i] = codes.get(String(value)) ?? UNSEEN_CATEGORY_CODE;
      else out[i] = toFiniteNumber(value);
    }
    return out;
  };
}

const codesByCategories = new WeakMap<readonly string[], ReadonlyMap<string, number>>();

/**
 * Category → code (its index) for one column, built once per category list: loadModelArtifact
 * checks uniqueness with it and the encoder looks codes up in it, so a column of thousands of
 * cities is hashed once per cold start instead of twice.
 */
export function categoryCodes(categories: readonly string[]): ReadonlyMap<string, number> {
  let codes = codesByCategories.get(categories);
  if (codes === undefined) {
    const built = new Map<string, number>();
    // A loop rather than new Map(categories.map(...)): no [category, code] pair per entry, which
    // was ~0.9 MB of garbage (young-generation scavenges) while loading the 5k-city model.
    for (let code = 0; code < categories.length; code++) built.set(categories[code], code);
    codesByCategories.set(categories, (codes = built));
  }
  return codes;
}

function toFiniteNumber(value: Exclude<RawValue, null | undefined>): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value !== 'string') return NaN; // records from JSON stores may hold booleans, objects
  // Stores hand numbers back as strings (Redis hashes); '' and '  ' must not become 0.
  if (value.trim() === '') return NaN;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : NaN;
}
