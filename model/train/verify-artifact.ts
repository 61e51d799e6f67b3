import { loadModel } from '../model.js';
import { OnnxRuntimeModel } from '../onnxruntime.js';
import type { RawRecord } from '../types.js';
import { toRowMajor } from './feature-matrix.js';
import type { TrainingSet } from './training-set.js';

/** The exported file does not reproduce the trainer; the message names runtime, row and values. */
export class ArtifactMismatchError extends Error {
  override readonly name = 'ArtifactMismatchError';
}

export interface VerificationReport {
  readonly rows: number;
  /** Largest |P(class 1) runtime − trainer| seen (float32 rounding of a float64 leaf value). */
  readonly maxProbabilityDifference: number;
}

/** A float64 probability stored as float32 moves by at most half an ulp: ≤ 2^-25 on [0.5, 1]. */
const FLOAT32_ROUNDING = 2 ** -24;

/**
 * Loads the written bytes with the serving facade (its encoder + the compiled evaluator, fed the
 * RAW training values) and with onnxruntime-web (fed the trainer's encoded matrix), and requires
 * for every row: the serving encoder's vector equals the trainer's bit for bit, labels equal, and
 * P(class 1) within float32 rounding of the trainer's.
 */
export async function verifyArtifact(
  bytes: Uint8Array,
  set: TrainingSet,
  rows: ArrayLike<number>,
  columns: readonly Float32Array[],
  trainerProbabilities: Float64Array,
): Promise<VerificationReport> {
  const count = rows.length;
  const width = columns.length;
  const matrix = toRowMajor(columns);
  const compiled = await loadModel(bytes);
  const ort = await OnnxRuntimeModel.create(bytes);
  let maxDifference = 0;
  try {
    const ortOutput = await ort.predict(matrix, count);
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      const expectedLabel = trainerProbabilities[i] > 0.5 ? 1 : 0;
      const raw: Record<string, string | number | null> = {};
      for (const name of set.featureNames) {
        const value = set.columns[name][row];
        raw[name] =
          value === null || (typeof value === 'number' && Number.isNaN(value)) ? null : value;
      }
      const decision = compiled.predict(raw as RawRecord);
      for (let f = 0; f < width; f++) {
        const mine = matrix[i * width + f];
        const served = decision.vector[f];
        if (!Object.is(mine, served) && !(Number.isNaN(mine) && Number.isNaN(served))) {
          throw new ArtifactMismatchError(
            `training row ${i}: serving encodes ${set.featureNames[f]} as ${served}, the trainer as ${mine}`,
          );
        }
      }
      const results = [
        {
          runtime: 'compiled evaluator',
          label: decision.prediction.label,
          p1: decision.prediction.probabilities[1],
        },
        {
          runtime: 'onnxruntime-web',
          label: Number(ortOutput.labels[i]),
          p1: ortOutput.probabilities[2 * i + 1],
        },
      ];
      for (const { runtime, label, p1 } of results) {
        const difference = Math.abs(p1 - trainerProbabilities[i]);
        maxDifference = Math.max(maxDifference, difference);
        if (label !== expectedLabel || difference > FLOAT32_ROUNDING) {
          throw new ArtifactMismatchError(
            `training row ${i}: ${runtime} predicts label ${label} with P(default) ${p1}; the trainer predicts label ${expectedLabel} with ${trainerProbabilities[i]}`,
          );
        }
      }
    }
  } finally {
    await ort.release();
  }
  return { rows: count, maxProbabilityDifference: maxDifference };
}
