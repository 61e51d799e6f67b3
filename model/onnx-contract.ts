/**
 * What the ONNX writer (./onnx.js, training) and the serving decoder (./onnx-decode.js) share: the
 * TreeEnsembleClassifier attributes as a typed spec, its node modes and the contract error. Kept
 * apart from ./onnx.js so serving bundles never pull in onnx-proto, which only the writer needs.
 */

/** The model file breaks the serving contract; the message names the attribute or key. */
export class ModelContractError extends Error {
  override readonly name = 'ModelContractError';
}

export const ML_DOMAIN = 'ai.onnx.ml';

export type NodeMode =
  'BRANCH_LEQ' | 'BRANCH_LT' | 'BRANCH_GTE' | 'BRANCH_GT' | 'BRANCH_EQ' | 'BRANCH_NEQ' | 'LEAF';

export const NODE_MODES: readonly NodeMode[] = [
  'BRANCH_LEQ',
  'BRANCH_LT',
  'BRANCH_GTE',
  'BRANCH_GT',
  'BRANCH_EQ',
  'BRANCH_NEQ',
  'LEAF',
];

/**
 * The node and leaf attributes of one ai.onnx.ml TreeEnsembleClassifier, named as in ONNX.
 * Node arrays are parallel (index i describes one node); class arrays are parallel (one leaf
 * weight each). Thresholds and weights are float32 in the file.
 */
export interface TreeEnsembleSpec {
  readonly nodes_treeids: readonly number[];
  readonly nodes_nodeids: readonly number[];
  readonly nodes_featureids: readonly number[];
  readonly nodes_values: readonly number[];
  readonly nodes_modes: readonly NodeMode[];
  readonly nodes_truenodeids: readonly number[];
  readonly nodes_falsenodeids: readonly number[];
  /** 1 = a NaN input takes the true branch; absent or 0 = the comparison decides (NaN fails it). */
  readonly nodes_missing_value_tracks_true?: readonly number[];
  readonly class_treeids: readonly number[];
  readonly class_nodeids: readonly number[];
  readonly class_ids: readonly number[];
  readonly class_weights: readonly number[];
  readonly classlabels_int64s: readonly number[];
  readonly post_transform?: string;
  readonly base_values?: readonly number[];
}
