import { float32AtOrBelow } from '../onnx.js';
import { TREE_LEAF, TREE_UNDEFINED, type DecisionTree } from './decision-tree.js';
import { SklearnRandR } from './sklearn-random.js';

export { leafIndex, predictProbabilities, type DecisionTree } from './decision-tree.js';

/**
 * A binary CART classifier (gini, best splitter) that grows the same tree as scikit-learn's
 * `DecisionTreeClassifier(criterion="gini", splitter="best", random_state=seed)` (≥ 1.3):
 *
 * - X is cast to float32 first, as sklearn trees do; values closer than 1e-7 count as equal.
 * - Features are visited in sklearn's random order (its xorshift stream seeded from numpy's
 *   MT19937, with the same constant-feature bookkeeping), candidates are compared with the same
 *   float64 gini proxy and a strict `>`, so ties break the same way.
 * - Missing values (NaN): every split is tried with the node's missing samples sent right, then
 *   left, then "all non-missing left, missing right" (threshold +inf); a node that saw no missing
 *   values in training sends them to its larger child.
 * - Thresholds are stored as float32 (the ONNX tensor type): sklearn's float64 midpoint rounded
 *   down to float32, so `x <= threshold` decides exactly as sklearn's float64 comparison does for
 *   every float32 input (see float32Threshold).
 *
 * Hand-written rather than `ml-cart`: ml-cart has no min-samples-per-leaf, no NaN routing, no
 * seeded feature order, and takes the float64 mean of neighbours as threshold — its trees (and
 * its predictions once thresholds are float32 in ONNX) would differ from scikit-learn's.
 */

export interface CartOptions {
  /** Default: unlimited. */
  readonly maxDepth?: number;
  /** Default 1. */
  readonly minSamplesLeaf?: number;
  /** Default 2 (raised to 2 × minSamplesLeaf, as sklearn does). */
  readonly minSamplesSplit?: number;
  /** random_state; default 0. */
  readonly seed?: number;
}

/** Training input: column-major float32 features (NaN = missing) and 0/1 labels. */
export interface TrainingMatrix {
  readonly columns: readonly Float32Array[];
  readonly labels: Uint8Array;
}

const FEATURE_THRESHOLD = 1e-7;
const EPSILON = 2.220446049250313e-16;

const gini = (count0: number, count1: number, n: number): number =>
  1.0 - (count0 * count0 + count1 * count1) / (n * n);

interface BestSplit {
  feature: number;
  threshold: number;
  missingGoesLeft: boolean;
  proxy: number;
}

/**
 * Grows a decision tree on `data`.
 *
 * @example
 * const tree = trainDecisionTree({ columns: [Float32Array.of(1, 2, 3)], labels: Uint8Array.of(0, 0, 1) }, { maxDepth: 3 });
 */
export function trainDecisionTree(data: TrainingMatrix, options: CartOptions = {}): DecisionTree {
  const { columns, labels } = data;
  const nFeatures = columns.length;
  const n = labels.length;
  if (nFeatures === 0 || n === 0) throw new RangeError('cannot train a tree on an empty matrix');
  const maxDepth = positiveInteger('maxDepth', options.maxDepth ?? Number.MAX_SAFE_INTEGER, 1);
  const minSamplesLeaf = positiveInteger('minSamplesLeaf', options.minSamplesLeaf ?? 1, 1);
  const minSamplesSplit = Math.max(
    positiveInteger('minSamplesSplit', options.minSamplesSplit ?? 2, 2),
    2 * minSamplesLeaf,
  );
  for (let f = 0; f < nFeatures; f++) {
    if (columns[f].length !== n)
      throw new RangeError(`feature ${f} has ${columns[f].length} values for ${n} labels`);
    for (const value of columns[f]) {
      // sklearn rejects infinities too: a threshold next to one is meaningless.
      if (value === Infinity || value === -Infinity)
        throw new RangeError(`feature ${f} holds an infinite value`);
    }
  }
  for (const label of labels)
    if (label !== 0 && label !== 1) throw new RangeError(`labels must be 0 or 1, found ${label}`);
  const rng = new SklearnRandR(options.seed ?? 0);

  // Per feature, every sample sorted by value with NaN last; a node owns the same [start, end)
  // range in each, and a split stable-partitions all of them: O(features × n) per tree level.
  const sorted = presorted(columns).map((order) => order.slice());
  const features = Int32Array.from({ length: nFeatures }, (_, f) => f);
  const constantFeatures = new Int32Array(nFeatures);
  const goesLeft = new Uint8Array(n);
  const scratch = new Int32Array(n);

  const nodes = {
    feature: [] as number[],
    threshold: [] as number[],
    left: [] as number[],
    right: [] as number[],
    missingGoesLeft: [] as number[],
    samples: [] as number[],
    probability: [] as number[],
    impurity: [] as number[],
  };

  interface StackRecord {
    start: number;
    end: number;
    depth: number;
    parent: number;
    isLeft: boolean;
    impurity: number;
    nConstant: number;
  }
  const stack: StackRecord[] = [
    { start: 0, end: n, depth: 0, parent: -1, isLeft: false, impurity: Infinity, nConstant: 0 },
  ];
  let first = true;

  while (stack.length > 0) {
    const record = stack.pop()!;
    const { start, end, depth } = record;
    const nNode = end - start;
    let count1 = 0;
    const anyOrder = sorted[0];
    for (let p = start; p < end; p++) count1 += labels[anyOrder[p]];
    const count0 = nNode - count1;
    let impurity = record.impurity;
    if (first) {
      impurity = gini(count0, count1, nNode);
      first = false;
    }
    let isLeaf =
      depth >= maxDepth ||
      nNode < minSamplesSplit ||
      nNode < 2 * minSamplesLeaf ||
      impurity <= EPSILON;

    let split: BestSplit | null = null;
    let nConstant = record.nConstant;
    if (!isLeaf) {
      const found = findBestSplit(start, end, count1, record.nConstant);
      split = found.split;
      nConstant = found.nConstant;
      if (!split) isLeaf = true;
    }

    const id = nodes.feature.length;
    if (record.parent >= 0) (record.isLeft ? nodes.left : nodes.right)[record.parent] = id;
    nodes.feature.push(isLeaf ? TREE_UNDEFINED : split!.feature);
    nodes.threshold.push(isLeaf ? TREE_UNDEFINED : split!.threshold);
    nodes.left.push(TREE_LEAF);
    nodes.right.push(TREE_LEAF);
    nodes.missingGoesLeft.push(!isLeaf && split!.missingGoesLeft ? 1 : 0);
    nodes.samples.push(nNode);
    nodes.probability.push(count1 / nNode);
    nodes.impurity.push(impurity);
    if (isLeaf) continue;

    const { nLeft, impurityLeft, impurityRight, improvement } = partition(
      start,
      end,
      split!,
      impurity,
    );
    if (improvement + EPSILON < 0) {
      // sklearn's min_impurity_decrease = 0 check; unreachable for a proper best split, kept for parity.
      nodes.feature[id] = TREE_UNDEFINED;
      nodes.threshold[id] = TREE_UNDEFINED;
      nodes.missingGoesLeft[id] = 0;
      continue;
    }
    // Right pushed first so the left child is popped (and numbered) first, as sklearn's stack.
    stack.push({
      start: start + nLeft,
      end,
      depth: depth + 1,
      parent: id,
      isLeft: false,
      impurity: impurityRight,
      nConstant,
    });
    stack.push({
      start,
      end: start + nLeft,
      depth: depth + 1,
      parent: id,
      isLeft: true,
      impurity: impurityLeft,
      nConstant,
    });
  }

  return {
    nFeatures,
    nodeCount: nodes.feature.length,
    feature: Int32Array.from(nodes.feature),
    threshold: Float32Array.from(nodes.threshold),
    left: Int32Array.from(nodes.left),
    right: Int32Array.from(nodes.right),
    missingGoesLeft: Uint8Array.from(nodes.missingGoesLeft),
    samples: Int32Array.from(nodes.samples),
    probability: Float64Array.from(nodes.probability),
    impurity: Float64Array.from(nodes.impurity),
  };

  /** sklearn's `node_split_best`, feature-sampling loop included. */
  function findBestSplit(
    start: number,
    end: number,
    nodeCount1: number,
    nKnownConstants: number,
  ): { split: BestSplit | null; nConstant: number } {
    const nNode = end - start;
    let best: BestSplit | null = null;
    let bestProxy = -Infinity;
    let fI = nFeatures;
    let nVisited = 0;
    let nFoundConstants = 0;
    let nDrawnConstants = 0;
    let nTotalConstants = nKnownConstants;

    while (
      fI > nTotalConstants &&
      (nVisited < nFeatures || nVisited <= nFoundConstants + nDrawnConstants)
    ) {
      nVisited++;
      let fJ = rng.randInt(nDrawnConstants, fI - nFoundConstants);
      if (fJ < nKnownConstants) {
        swap(features, nDrawnConstants, fJ);
        nDrawnConstants++;
        continue;
      }
      fJ += nFoundConstants;
      const feature = features[fJ];
      const order = sorted[feature];
      const values = columns[feature];
      let endNonMissing = end;
      while (endNonMissing > start && Number.isNaN(values[order[endNonMissing - 1]]))
        endNonMissing--;
      const nMissing = end - endNonMissing;
      if (
        endNonMissing === start ||
        values[order[endNonMissing - 1]] <= values[order[start]] + FEATURE_THRESHOLD
      ) {
        swap(features, fJ, nTotalConstants);
        nFoundConstants++;
        nTotalConstants++;
        continue;
      }
      fI--;
      swap(features, fI, fJ);

      let missing1 = 0;
      for (let p = endNonMissing; p < end; p++) missing1 += labels[order[p]];
      const searches = nMissing > 0 ? 2 : 1;
      for (let search = 0; search < searches; search++) {
        const missingLeft = search === 1;
        let left1 = missingLeft ? missing1 : 0;
        let p = start;
        while (p < endNonMissing) {
          // next_p: skip over values within FEATURE_THRESHOLD of their predecessor.
          while (
            p + 1 < endNonMissing &&
            values[order[p + 1]] <= values[order[p]] + FEATURE_THRESHOLD
          ) {
            left1 += labels[order[p]];
            p++;
          }
          left1 += labels[order[p]];
          const pPrev = p;
          p++;
          if (p >= endNonMissing) continue;
          const nLeft = missingLeft ? p - start + nMissing : p - start;
          const nRight = nNode - nLeft;
          if (nLeft < minSamplesLeaf || nRight < minSamplesLeaf) continue;
          const proxy = proxyImprovement(nLeft, left1, nRight, nodeCount1 - left1);
          if (proxy > bestProxy) {
            bestProxy = proxy;
            best = {
              feature,
              threshold: float32Threshold(values[order[pPrev]], values[order[p]]),
              missingGoesLeft: nMissing === 0 ? nLeft > nRight : missingLeft,
              proxy,
            };
          }
        }
      }
      if (nMissing > 0) {
        const nLeft = nNode - nMissing;
        if (nLeft >= minSamplesLeaf && nMissing >= minSamplesLeaf) {
          const proxy = proxyImprovement(nLeft, nodeCount1 - missing1, nMissing, missing1);
          if (proxy > bestProxy) {
            bestProxy = proxy;
            best = { feature, threshold: Infinity, missingGoesLeft: false, proxy };
          }
        }
      }
    }
    // sklearn keeps known constants in their original order for siblings and children.
    features.set(constantFeatures.subarray(0, nKnownConstants), 0);
    constantFeatures.set(
      features.subarray(nKnownConstants, nKnownConstants + nFoundConstants),
      nKnownConstants,
    );
    return { split: best, nConstant: nTotalConstants };
  }

  /** Stable-partitions [start, end) of every feature's order into left then right. */
  function partition(start: number, end: number, split: BestSplit, parentImpurity: number) {
    const values = columns[split.feature];
    const order = sorted[split.feature];
    let nLeft = 0;
    let left1 = 0;
    let count1 = 0;
    for (let p = start; p < end; p++) {
      const sample = order[p];
      const value = values[sample];
      const left = Number.isNaN(value) ? split.missingGoesLeft : value <= split.threshold;
      goesLeft[sample] = left ? 1 : 0;
      count1 += labels[sample];
      if (left) {
        nLeft++;
        left1 += labels[sample];
      }
    }
    for (const featureOrder of sorted) {
      let l = start;
      let r = 0;
      for (let p = start; p < end; p++) {
        const sample = featureOrder[p];
        if (goesLeft[sample]) featureOrder[l++] = sample;
        else scratch[r++] = sample;
      }
      featureOrder.set(scratch.subarray(0, r), l);
    }
    const nNode = end - start;
    const nRight = nNode - nLeft;
    const impurityLeft = gini(nLeft - left1, left1, nLeft);
    const impurityRight = gini(nRight - (count1 - left1), count1 - left1, nRight);
    const improvement =
      (nNode / n) *
      (parentImpurity - (nRight / nNode) * impurityRight - (nLeft / nNode) * impurityLeft);
    return { nLeft, impurityLeft, impurityRight, improvement };
  }
}

// A grid search trains many trees on one matrix: sort each column once, copy per tree.
const presortCache = new WeakMap<readonly Float32Array[], Int32Array[]>();

function presorted(columns: readonly Float32Array[]): Int32Array[] {
  let orders = presortCache.get(columns);
  if (!orders) {
    orders = columns.map((column) => {
      // NaN last; among equal values any order will do (the criterion only sees counts).
      const keys = Float64Array.from(column, (value) => (Number.isNaN(value) ? Infinity : value));
      return Int32Array.from({ length: column.length }, (_, i) => i).sort(
        (a, b) => keys[a] - keys[b],
      );
    });
    presortCache.set(columns, orders);
  }
  return orders;
}

/** sklearn's `proxy_impurity_improvement` for gini, same operation order. */
function proxyImprovement(nLeft: number, left1: number, nRight: number, right1: number): number {
  return (
    -nRight * gini(nRight - right1, right1, nRight) - nLeft * gini(nLeft - left1, left1, nLeft)
  );
}

/**
 * The float32 threshold for a split between adjacent float32 values lower < upper: sklearn's
 * float64 threshold (the midpoint, or `lower` when the midpoint rounds onto `upper`) rounded DOWN
 * to float32. Rounding down rather than to nearest keeps `x <= t` equivalent to sklearn's
 * `x <= midpoint` for every float32 x — training values and any input serving will ever see —
 * whereas round-to-nearest (skl2onnx's cast) flips inputs equal to a rounded-up threshold.
 */
export function float32Threshold(lower: number, upper: number): number {
  let midpoint = lower / 2.0 + upper / 2.0;
  if (midpoint === upper || !Number.isFinite(midpoint)) midpoint = lower;
  return float32AtOrBelow(midpoint);
}

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function swap(array: Int32Array, i: number, j: number): void {
  const tmp = array[i];
  array[i] = array[j];
  array[j] = tmp;
}
