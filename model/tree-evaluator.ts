/**
 * The hot path: a TreeEnsembleClassifier compiled into flat typed arrays, reproducing
 * onnxruntime's CPU kernel bit for bit (single-threaded, as onnxruntime-web runs it):
 * - each node compares the float32 input with its float32 threshold; a NaN input takes the true
 *   branch only where nodes_missing_value_tracks_true is 1 (or the comparison holds for NaN: NEQ);
 * - trees are visited in the order their first node appears, the leaf weights summed in float32;
 * - binary convention (one weight per leaf under class id 0, weights ≥ 0): p = that sum,
 *   probabilities = [fround(1 - p), p], label = p > 0.5 ? 1 : 0 (so p == 0.5 gives label 0).
 * Hand-written rather than a library because no JS library reproduces onnxruntime's arithmetic
 * and it must also return the decision path.
 */
import type { TreeEnsembleSpec } from './onnx.js';
import type { ExplainedPrediction, PathStep, Prediction } from './types.js';

const LEQ = 0;
const LT = 1;
const GTE = 2;
const GT = 3;
const EQ = 4;
const NEQ = 5;
const MODE_CODES: Readonly<Record<string, number>> = {
  BRANCH_LEQ: LEQ,
  BRANCH_LT: LT,
  BRANCH_GTE: GTE,
  BRANCH_GT: GT,
  BRANCH_EQ: EQ,
  BRANCH_NEQ: NEQ,
};
const MODE_NAMES = [
  'BRANCH_LEQ',
  'BRANCH_LT',
  'BRANCH_GTE',
  'BRANCH_GT',
  'BRANCH_EQ',
  'BRANCH_NEQ',
];
const LEAF_FEATURE = -1;

export interface BatchPrediction {
  /** 0 | 1 per row. */
  readonly labels: Uint8Array;
  /** Row-major [N, 2] float32: P(class 0), P(class 1). */
  readonly probabilities: Float32Array;
}

export class TreeEnsembleEvaluator {
  readonly featureCount: number;
  readonly treeCount: number;
  private readonly featureNames: readonly string[];
  private readonly roots: Int32Array;
  /** Feature index per node; LEAF_FEATURE marks a leaf. */
  private readonly feature: Int32Array;
  /** float32 threshold per branch node, float32 P(class 1) per leaf (as onnxruntime stores them). */
  private readonly value: Float64Array;
  private readonly trueChild: Int32Array;
  private readonly falseChild: Int32Array;
  private readonly mode: Uint8Array;
  private readonly missingTracksTrue: Uint8Array;
  /** Every branch is BRANCH_LEQ without missing tracks: the scikit-learn shape, walked by a tight loop. */
  private readonly plainLeq: boolean;

  /**
   * Compiles a spec already checked by loadModelArtifact (each tree contiguous and rooted at its
   * first listed node, exactly one class-0 weight per leaf).
   */
  constructor(spec: TreeEnsembleSpec, featureNames?: readonly string[]) {
    const nodeCount = spec.nodes_nodeids.length;
    const maxFeature = spec.nodes_featureids.reduce(
      (max, id, i) => (spec.nodes_modes[i] === 'LEAF' ? max : Math.max(max, id)),
      -1,
    );
    this.featureCount = featureNames?.length ?? maxFeature + 1;
    this.featureNames =
      featureNames ?? Array.from({ length: this.featureCount }, (_, i) => `f${i}`);
    this.feature = new Int32Array(nodeCount);
    this.value = new Float64Array(nodeCount);
    this.trueChild = new Int32Array(nodeCount);
    this.falseChild = new Int32Array(nodeCount);
    this.mode = new Uint8Array(nodeCount);
    this.missingTracksTrue = new Uint8Array(nodeCount);

    const position = new Map<string, number>();
    const roots: number[] = [];
    for (let i = 0; i < nodeCount; i++) {
      position.set(`${spec.nodes_treeids[i]}:${spec.nodes_nodeids[i]}`, i);
      if (i === 0 || spec.nodes_treeids[i] !== spec.nodes_treeids[i - 1]) roots.push(i);
    }
    const find = (treeId: number, nodeId: number, what: string): number => {
      const index = position.get(`${treeId}:${nodeId}`);
      if (index === undefined) throw new Error(`tree ${treeId} has no node ${nodeId} (${what})`);
      return index;
    };

    let plainLeq = true;
    for (let i = 0; i < nodeCount; i++) {
      const modeName = spec.nodes_modes[i];
      if (modeName === 'LEAF') {
        this.feature[i] = LEAF_FEATURE;
        continue;
      }
      const code = MODE_CODES[modeName];
      if (code === undefined) throw new Error(`unknown node mode ${modeName}`);
      this.mode[i] = code;
      this.feature[i] = spec.nodes_featureids[i];
      this.value[i] = Math.fround(spec.nodes_values[i]);
      this.missingTracksTrue[i] = spec.nodes_missing_value_tracks_true?.[i] === 1 ? 1 : 0;
      this.trueChild[i] = find(spec.nodes_treeids[i], spec.nodes_truenodeids[i], 'true branch');
      this.falseChild[i] = find(spec.nodes_treeids[i], spec.nodes_falsenodeids[i], 'false branch');
      if (code !== LEQ || this.missingTracksTrue[i] === 1) plainLeq = false;
    }
    for (let k = 0; k < spec.class_nodeids.length; k++) {
      this.value[find(spec.class_treeids[k], spec.class_nodeids[k], 'class weight')] = Math.fround(
        spec.class_weights[k],
      );
    }
    this.roots = Int32Array.from(roots);
    this.treeCount = roots.length;
    this.plainLeq = plainLeq;
  }

  /** P(class 1) as onnxruntime sums it; `x` is one row in feature order. */
  score(x: Float32Array): number {
    const { roots, feature, value, trueChild, falseChild } = this;
    let sum = 0;
    if (this.plainLeq) {
      for (let t = 0; t < roots.length; t++) {
        let node = roots[t];
        let f = feature[node];
        while (f !== LEAF_FEATURE) {
          node = x[f] <= value[node] ? trueChild[node] : falseChild[node];
          f = feature[node];
        }
        sum = Math.fround(sum + value[node]);
      }
      return sum;
    }
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t];
      while (feature[node] !== LEAF_FEATURE) {
        node = this.holds(node, x[feature[node]]) ? trueChild[node] : falseChild[node];
      }
      sum = Math.fround(sum + value[node]);
    }
    return sum;
  }

  predict(x: Float32Array): Prediction {
    const p = this.score(x);
    return { label: p > 0.5 ? 1 : 0, probabilities: [Math.fround(1 - p), p] };
  }

  /** Same result as predict, plus every node passed, root to leaf, tree after tree. */
  predictWithPath(x: Float32Array): ExplainedPrediction {
    const { roots, feature, value, trueChild, falseChild } = this;
    const path: PathStep[] = [];
    let p = 0;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t];
      while (feature[node] !== LEAF_FEATURE) {
        const input = x[feature[node]];
        const conditionHeld = this.holds(node, input);
        path.push({
          featureIndex: feature[node],
          feature: this.featureNames[feature[node]],
          threshold: value[node],
          mode: MODE_NAMES[this.mode[node]],
          conditionHeld,
          input,
        });
        node = conditionHeld ? trueChild[node] : falseChild[node];
      }
      p = Math.fround(p + value[node]);
    }
    return { label: p > 0.5 ? 1 : 0, probabilities: [Math.fround(1 - p), p], path };
  }

  /** `rows` rows laid out row-major in `x` (each featureCount wide), as onnxruntime takes them. */
  predictBatch(x: Float32Array, rows: number): BatchPrediction {
    const width = this.featureCount;
    if (x.length < rows * width) {
      throw new RangeError(`batch holds ${x.length} values; ${rows} rows need ${rows * width}`);
    }
    const labels = new Uint8Array(rows);
    const probabilities = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      const p = this.score(x.subarray(r * width, (r + 1) * width));
      labels[r] = p > 0.5 ? 1 : 0;
      probabilities[2 * r] = 1 - p; // the Float32Array store rounds exactly like fround
      probabilities[2 * r + 1] = p;
    }
    return { labels, probabilities };
  }

  /** Whether a node's condition holds; the comparisons are exactly onnxruntime's, NaN included. */
  private holds(node: number, input: number): boolean {
    const threshold = this.value[node];
    let held: boolean;
    switch (this.mode[node]) {
      case LEQ:
        held = input <= threshold;
        break;
      case LT:
        held = input < threshold;
        break;
      case GTE:
        held = input >= threshold;
        break;
      case GT:
        held = input > threshold;
        break;
      case EQ:
        held = input === threshold;
        break;
      default:
        held = input !== threshold;
    }
    return held || (this.missingTracksTrue[node] === 1 && input !== input);
  }
}
