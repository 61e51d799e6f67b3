import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  float32Threshold,
  leafIndex,
  predictProbabilities,
  trainDecisionTree,
  type DecisionTree,
} from './cart.js';
import { float32AtOrBelow } from '../onnx.js';
import { encodeFeatureColumns, fitEncodings } from './feature-matrix.js';
import { rocAuc } from './metrics.js';
import { splitRows } from './split.js';
import { buildTrainingSet } from './training-set.js';
import { readTrainingTables } from './training-tables.js';

interface SklearnTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  probability: number[];
}

const testdata = path.join(import.meta.dirname, 'testdata');
const columnsOf = (rows: number[][]) =>
  rows[0].map((_, f) => Float32Array.from(rows, (row) => row[f] ?? NaN));
const train = (rows: (number | null)[][], labels: number[], options = {}) =>
  trainDecisionTree(
    { columns: columnsOf(rows as number[][]), labels: Uint8Array.from(labels) },
    options,
  );

/** Same nodes, features, children and leaf values; thresholds as float32 of sklearn's float64. */
function expectSameTree(tree: DecisionTree, expected: SklearnTree): void {
  expect([...tree.feature]).toEqual(expected.feature);
  expect([...tree.left]).toEqual(expected.left);
  expect([...tree.right]).toEqual(expected.right);
  expected.probability.forEach((p, node) => expect(tree.probability[node]).toBeCloseTo(p, 12));
  expected.threshold.forEach((threshold, node) => {
    if (expected.feature[node] < 0) return;
    // sklearn's float64 threshold rounded down to float32: same decision for every float32 input.
    expect(tree.threshold[node]).toBe(float32AtOrBelow(threshold));
  });
}

describe('trainDecisionTree matches scikit-learn', () => {
  interface GoldenCase {
    X: number[][];
    y: number[];
    params: { max_depth: number | null; min_samples_leaf: number; random_state: number };
    tree: SklearnTree;
  }
  const goldens = JSON.parse(readFileSync(path.join(testdata, 'sklearn-trees.json'), 'utf8')) as {
    cases: GoldenCase[];
  };
  it.each(goldens.cases.map((c, i) => ({ i, params: JSON.stringify(c.params), c })))(
    'case $i $params grows the tree scikit-learn grew',
    ({ c }) => {
      const tree = train(c.X, c.y, {
        maxDepth: c.params.max_depth ?? undefined,
        minSamplesLeaf: c.params.min_samples_leaf,
        seed: c.params.random_state,
      });
      expectSameTree(tree, c.tree);
    },
  );

  const realData = path.resolve(import.meta.dirname, '../../../shared/data/feast-credit-scoring');
  it.skipIf(!existsSync(realData))(
    "grows scikit-learn's tree on the real credit-scoring loans (seed 42, depth 6, leaf 5)",
    async () => {
      const golden = JSON.parse(
        readFileSync(path.join(testdata, 'sklearn-real-data-tree.json'), 'utf8'),
      );
      const set = buildTrainingSet(await readTrainingTables(realData));
      const split = splitRows(set.labels.length, 42);
      const encodings = fitEncodings(set, split.train);
      const labelsOf = (rows: Int32Array) => Uint8Array.from(rows, (row) => set.labels[row]);
      const tree = trainDecisionTree(
        {
          columns: encodeFeatureColumns(set, split.train, encodings),
          labels: labelsOf(split.train),
        },
        { maxDepth: 6, minSamplesLeaf: 5, seed: 42 },
      );
      expectSameTree(tree, golden.tree);
      const auc = (rows: Int32Array) =>
        rocAuc(
          labelsOf(rows),
          predictProbabilities(tree, encodeFeatureColumns(set, rows, encodings)),
        );
      expect(auc(split.validation)).toBeCloseTo(golden.validation_roc_auc, 12);
      expect(auc(split.test)).toBeCloseTo(golden.test_roc_auc, 12);
    },
  );
});

describe('trainDecisionTree on crafted data', () => {
  it('finds the obvious split at the midpoint', () => {
    const tree = train([[1], [2], [3], [4], [5], [6]], [0, 0, 0, 1, 1, 1]);
    expect(tree.nodeCount).toBe(3);
    expect(tree.threshold[0]).toBe(3.5);
    expect([tree.probability[1], tree.probability[2]]).toEqual([0, 1]);
  });

  it('respects min_samples_leaf', () => {
    const rows = [[1], [2], [3], [4], [5], [6]];
    const labels = [1, 0, 0, 0, 0, 0];
    expect(train(rows, labels).threshold[0]).toBe(1.5);
    const constrained = train(rows, labels, { minSamplesLeaf: 2 });
    for (let node = 0; node < constrained.nodeCount; node++)
      expect(constrained.samples[node]).toBeGreaterThanOrEqual(2);
    expect(constrained.threshold[0]).not.toBe(1.5);
  });

  it('respects max_depth and stops at pure nodes', () => {
    const rows = Array.from({ length: 32 }, (_, i) => [i]);
    const labels = rows.map(([i]) => i % 2);
    const depthOf = (tree: DecisionTree, node = 0): number =>
      tree.left[node] < 0
        ? 0
        : 1 + Math.max(depthOf(tree, tree.left[node]), depthOf(tree, tree.right[node]));
    expect(depthOf(train(rows, labels, { maxDepth: 3 }))).toBe(3);
    expect(train([[1], [2], [3]], [1, 1, 1]).nodeCount).toBe(1);
  });

  it('sends missing values right when that separates best: non-missing left at +inf', () => {
    const tree = train([[1], [2], [3], [null], [null]], [0, 0, 0, 1, 1]);
    expect(tree.threshold[0]).toBe(Infinity);
    expect(tree.missingGoesLeft[0]).toBe(0);
    expect(tree.probability[leafIndex(tree, () => NaN)]).toBe(1);
    expect(tree.probability[leafIndex(tree, () => 1e30)]).toBe(0);
  });

  it('sends missing values left when that separates best', () => {
    const tree = train([[1], [2], [3], [4], [null], [null]], [1, 1, 0, 0, 1, 1]);
    expect(tree.threshold[0]).toBe(2.5);
    expect(tree.missingGoesLeft[0]).toBe(1);
    expect(tree.nodeCount).toBe(3);
    expect(tree.probability[leafIndex(tree, () => NaN)]).toBe(1);
  });

  it('sends missing values to the larger child where training saw none', () => {
    const right = train([[1], [2], [3], [4], [5]], [0, 1, 1, 1, 1]);
    expect(right.missingGoesLeft[0]).toBe(0);
    expect(right.probability[leafIndex(right, () => NaN)]).toBe(1);
    const left = train([[1], [2], [3], [4], [5]], [0, 0, 0, 0, 1]);
    expect(left.missingGoesLeft[0]).toBe(1);
    expect(left.probability[leafIndex(left, () => NaN)]).toBe(0);
  });

  it('stores float32 thresholds that separate adjacent float32 values exactly', () => {
    const one = 1;
    const next = 1 + 2 ** -23;
    const nextNext = 1 + 2 ** -22;
    expect(float32Threshold(one, next)).toBe(one);
    expect(float32Threshold(next, nextNext)).toBe(next);
    // Between far-apart large float32 values the float64 midpoint is no float32: round it down,
    // so an input equal to the float32 just above the midpoint goes right, as in sklearn.
    const [a, b] = [Math.fround(1089095168), Math.fround(1089095168 + 3 * 128)]; // float32 spacing 128 here
    const midpoint = a / 2 + b / 2;
    const t = float32Threshold(a, b);
    expect(Math.fround(t)).toBe(t);
    expect(t).toBeLessThan(midpoint);
    expect(Math.fround(midpoint)).toBeGreaterThan(midpoint); // round-to-nearest would have gone up
    expect(t > a && t < b).toBe(true);
    const tree = train([[next], [nextNext], [nextNext]], [0, 1, 1]);
    expect(tree.threshold[0]).toBe(next);
    expect(tree.probability[leafIndex(tree, () => next)]).toBe(0);
    expect(tree.probability[leafIndex(tree, () => nextNext)]).toBe(1);
  });

  it('is deterministic for a seed and breaks exact ties between features by the seed', () => {
    const rows = Array.from({ length: 40 }, (_, i) => [i % 10, i % 10, (i * 7) % 13]);
    const labels = rows.map(([a]) => (a >= 5 ? 1 : 0));
    const rootFeatures = new Set<number>();
    for (let seed = 0; seed < 12; seed++) {
      const a = train(rows, labels, { seed });
      expect(train(rows, labels, { seed })).toEqual(a);
      rootFeatures.add(a.feature[0]);
    }
    expect(rootFeatures).toEqual(new Set([0, 1]));
  });

  it('rejects what it cannot train on', () => {
    expect(() => train([[1], [Infinity]], [0, 1])).toThrow(/infinite/);
    expect(() => train([[1], [2]], [0, 2])).toThrow(/0 or 1/);
    expect(() => train([[1], [2]], [0, 1], { minSamplesLeaf: 0 })).toThrow(/minSamplesLeaf/);
    expect(() => train([[1], [2]], [0, 1], { maxDepth: 1.5 })).toThrow(/maxDepth/);
  });
});
