import { createHash } from 'node:crypto';
import { encodeTreeEnsembleModel, type TreeEnsembleSpec } from '../onnx.js';
import type { DecisionTree } from './cart.js';
import type { CategoricalEncodings } from './feature-matrix.js';

/**
 * The tree in skl2onnx's layout for a binary DecisionTreeClassifier (zipmap off): one tree, node
 * ids = sklearn node ids, BRANCH_LEQ with the left child as the true branch, missing values
 * tracking the true branch where sklearn sends them left, and one float32 weight per leaf —
 * P(class 1) — under class id 0.
 */
export function treeToEnsembleSpec(tree: DecisionTree): TreeEnsembleSpec {
  const ids = Array.from({ length: tree.nodeCount }, (_, node) => node);
  const isLeaf = (node: number) => tree.left[node] < 0;
  const leaves = ids.filter(isLeaf);
  return {
    nodes_treeids: ids.map(() => 0),
    nodes_nodeids: ids,
    nodes_featureids: ids.map((node) => (isLeaf(node) ? 0 : tree.feature[node])),
    nodes_values: ids.map((node) => (isLeaf(node) ? 0 : tree.threshold[node])),
    nodes_modes: ids.map((node) => (isLeaf(node) ? 'LEAF' : 'BRANCH_LEQ')),
    nodes_truenodeids: ids.map((node) => (isLeaf(node) ? 0 : tree.left[node])),
    nodes_falsenodeids: ids.map((node) => (isLeaf(node) ? 0 : tree.right[node])),
    nodes_missing_value_tracks_true: ids.map((node) =>
      isLeaf(node) ? 0 : tree.missingGoesLeft[node],
    ),
    class_treeids: leaves.map(() => 0),
    class_nodeids: leaves,
    class_ids: leaves.map(() => 0),
    class_weights: leaves.map((node) => Math.fround(tree.probability[node])),
    classlabels_int64s: [0, 1],
    post_transform: 'NONE',
  };
}

export interface ArtifactInput {
  readonly tree: DecisionTree;
  readonly featureNames: readonly string[];
  readonly categoricalEncodings: CategoricalEncodings;
  /** Extra metadata_props (JSON strings); `version` is added here. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Content hash of what decides predictions (tree + feature order + encodings): retraining on the
 * same data with the same seed gives the same version, any change to the model a new one.
 */
export function modelVersion(
  spec: TreeEnsembleSpec,
  featureNames: readonly string[],
  encodings: CategoricalEncodings,
): string {
  const canonical = JSON.stringify({
    spec,
    featureNames,
    encodings: Object.entries(encodings).sort(([a], [b]) => (a < b ? -1 : 1)),
  });
  return `cart-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}

/**
 * Encodes the ONNX file. No wall-clock time goes in: the same data, seed and options give the
 * same bytes, so a retrain that changes nothing shows no diff. `training_data_range` dates it.
 */
export function exportArtifact(input: ArtifactInput): {
  bytes: Uint8Array;
  version: string;
  spec: TreeEnsembleSpec;
} {
  const spec = treeToEnsembleSpec(input.tree);
  const version = modelVersion(spec, input.featureNames, input.categoricalEncodings);
  const bytes = encodeTreeEnsembleModel(spec, {
    featureNames: input.featureNames,
    categoricalEncodings: input.categoricalEncodings,
    metadata: { version, ...input.metadata },
    producerName: 'loan-decision-api/model/train',
  });
  return { bytes, version, spec };
}
