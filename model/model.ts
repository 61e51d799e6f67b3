/**
 * What the API uses: model bytes in, a model that turns a raw record into a decision with its
 * reasons. The compiled runtime here is synchronous (the hot path); `loadOnnxRuntimeCreditModel`
 * (./onnxruntime.js) runs the same file through onnxruntime-web behind the same shape, async.
 */
import { loadModelArtifact } from './artifact.js';
import { createFeatureEncoder } from './encoding.js';
import { createPathExplainer } from './explain.js';
import { TreeEnsembleEvaluator } from './tree-evaluator.js';
import type { ExplainedPrediction, ModelArtifact, RawRecord, Reason } from './types.js';

export { ModelContractError } from './artifact.js';
export { UNSEEN_CATEGORY_CODE } from './encoding.js';

export type ModelRuntime = 'compiled' | 'onnxruntime';

export interface ModelDecision {
  readonly prediction: ExplainedPrediction;
  readonly reasons: Reason[];
  /** The encoded input row, in artifact.featureNames order. */
  readonly vector: Float32Array;
}

interface ModelBase {
  readonly artifact: ModelArtifact;
  /** Feature names the model reads, in tensor order (the API must supply each, or null). */
  readonly requiredInputs: readonly string[];
  encode(raw: RawRecord): Float32Array;
}

export interface CreditModel extends ModelBase {
  readonly runtime: 'compiled';
  predict(raw: RawRecord): ModelDecision;
}

/**
 * The same model run by onnxruntime-web: `loadOnnxRuntimeCreditModel` in ./onnxruntime.js (Node
 * only). onnxruntime computes label and probabilities; the path and reasons come from the compiled
 * walk of the same trees, since onnxruntime does not expose it. Both agree bit for bit.
 */
export interface AsyncCreditModel extends ModelBase {
  readonly runtime: 'onnxruntime';
  predict(raw: RawRecord): Promise<ModelDecision>;
  release(): Promise<void>;
}

/**
 * Loads and validates model bytes (throws ModelContractError naming the broken part) into the
 * compiled runtime. This module never references onnxruntime-web, so bundles built from it
 * (Workers, Lambda) stay free of it; the onnxruntime variant is a separate entry point.
 *
 * @example
 * const model = await loadModel(new Uint8Array(await readFile('model/model.onnx')));
 * const { prediction, reasons } = model.predict({ loan_int_rate: 16.02, person_home_ownership: 'RENT' });
 * const reject = prediction.label === 1;
 */
export async function loadModel(bytes: Uint8Array): Promise<CreditModel> {
  const { artifact, ensemble } = await loadModelArtifact(bytes);
  const evaluator = new TreeEnsembleEvaluator(ensemble, artifact.featureNames);
  const encodeInto = createFeatureEncoder(artifact);
  const explain = createPathExplainer(artifact);
  return {
    artifact,
    requiredInputs: artifact.featureNames,
    runtime: 'compiled',
    encode: (raw) => encodeInto(raw),
    predict(raw) {
      const vector = encodeInto(raw);
      const prediction = evaluator.predictWithPath(vector);
      return { prediction, reasons: explain(prediction.path, raw), vector };
    },
  };
}
