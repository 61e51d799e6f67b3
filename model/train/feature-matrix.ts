import { encodeCategories, fitCategories } from './ordinal-encoder.js';
import type { TrainingSet } from './training-set.js';

/** Column → categories (index = code), the artifact's `categorical_encodings`. */
export type CategoricalEncodings = Record<string, string[]>;

/** Fits every categorical column's categories on the given rows (the training split). */
export function fitEncodings(set: TrainingSet, rows: ArrayLike<number>): CategoricalEncodings {
  const encodings: CategoricalEncodings = {};
  for (const name of set.categoricalFeatures) {
    const values = set.columns[name] as (string | null)[];
    encodings[name] = fitCategories(Array.from(rows as ArrayLike<number>, (row) => values[row]));
  }
  return encodings;
}

/**
 * The float32 model input for the given rows, column-major in featureNames order: what the ONNX
 * graph sees after serving's encoder (categories → code or -1, missing → NaN, numbers → float32).
 */
export function encodeFeatureColumns(
  set: TrainingSet,
  rows: ArrayLike<number>,
  encodings: CategoricalEncodings,
): Float32Array[] {
  return set.featureNames.map((name) => {
    const values = set.columns[name];
    if (name in encodings) {
      return encodeCategories(
        Array.from(rows as ArrayLike<number>, (row) => (values as (string | null)[])[row]),
        encodings[name],
      );
    }
    const numbers = values as Float64Array;
    return Float32Array.from(rows as ArrayLike<number>, (row) => numbers[row]);
  });
}

/** Column-major → row-major [rows, features], the layout of the ONNX input tensor. */
export function toRowMajor(columns: readonly Float32Array[]): Float32Array {
  const rows = columns[0]?.length ?? 0;
  const width = columns.length;
  const out = new Float32Array(rows * width);
  for (let f = 0; f < width; f++) {
    const column = columns[f];
    for (let i = 0; i < rows; i++) out[i * width + f] = column[i];
  }
  return out;
}
