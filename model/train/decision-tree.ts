/**
 * The trained tree as plain typed arrays, and the trainer's own prediction walk (the reference the
 * exported ONNX file is checked against).
 */

/** sklearn's TREE_LEAF child id and TREE_UNDEFINED feature / threshold. */
export const TREE_LEAF = -1;
export const TREE_UNDEFINED = -2;

/** Nodes in sklearn's pre-order numbering (root 0, left subtree before right). */
export interface DecisionTree {
  readonly nFeatures: number;
  readonly nodeCount: number;
  /** Split feature per node; -2 at leaves (sklearn's TREE_UNDEFINED). */
  readonly feature: Int32Array;
  /** float32 value; `x <= threshold` goes left. Leaves: -2. */
  readonly threshold: Float32Array;
  /** Child ids; -1 at leaves (sklearn's TREE_LEAF). */
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** 1 when a missing value goes to the left child. */
  readonly missingGoesLeft: Uint8Array;
  readonly samples: Int32Array;
  /** P(class 1) among the node's training samples (float64). */
  readonly probability: Float64Array;
  readonly impurity: Float64Array;
}

/** Leaf reached by one row; `valueOf(f)` is the float32-cast value of feature f (NaN = missing). */
export function leafIndex(tree: DecisionTree, valueOf: (feature: number) => number): number {
  let node = 0;
  while (tree.left[node] !== TREE_LEAF) {
    const value = valueOf(tree.feature[node]);
    const goLeft = Number.isNaN(value)
      ? tree.missingGoesLeft[node] === 1
      : value <= tree.threshold[node];
    node = goLeft ? tree.left[node] : tree.right[node];
  }
  return node;
}

/** P(class 1) for every row of a column-major matrix. */
export function predictProbabilities(
  tree: DecisionTree,
  columns: readonly Float32Array[],
): Float64Array {
  const rows = columns[0]?.length ?? 0;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = tree.probability[leafIndex(tree, (f) => columns[f][i])];
  return out;
}
