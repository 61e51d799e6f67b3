import {
  predictProbabilities,
  trainDecisionTree,
  type CartOptions,
  type DecisionTree,
} from './cart.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';

export interface SearchGrid {
  readonly maxDepth: readonly number[];
  readonly minSamplesLeaf: readonly number[];
}

/** Depth 3–12 spans "a few rules" to "as deep as ~1–20k loans support"; leaves of 1–100 loans. */
export const DEFAULT_GRID: SearchGrid = {
  maxDepth: [3, 4, 5, 6, 8, 10, 12],
  minSamplesLeaf: [1, 5, 10, 20, 50, 100],
};

export interface Candidate {
  readonly maxDepth: number;
  readonly minSamplesLeaf: number;
  readonly leaves: number;
  readonly validation: ClassificationMetrics;
}

export interface SearchResult {
  readonly candidates: readonly Candidate[];
  readonly best: Candidate;
  readonly tree: DecisionTree;
}

export interface MatrixWithLabels {
  readonly columns: readonly Float32Array[];
  readonly labels: Uint8Array;
}

/**
 * Trains one tree per grid point on `train` and scores it on `validation`. The winner has the
 * highest validation ROC AUC (the ranking quality a cut-off is later chosen on), ties going to the
 * simpler tree: shallower, then larger leaves.
 */
export function searchHyperparameters(
  train: MatrixWithLabels,
  validation: MatrixWithLabels,
  grid: SearchGrid,
  seed: number,
): SearchResult {
  let best: { candidate: Candidate; tree: DecisionTree } | undefined;
  const candidates: Candidate[] = [];
  for (const maxDepth of [...grid.maxDepth].sort((a, b) => a - b)) {
    for (const minSamplesLeaf of [...grid.minSamplesLeaf].sort((a, b) => b - a)) {
      const options: CartOptions = { maxDepth, minSamplesLeaf, seed };
      const tree = trainDecisionTree(train, options);
      const metrics = classificationMetrics(
        validation.labels,
        predictProbabilities(tree, validation.columns),
      );
      let leaves = 0;
      for (let node = 0; node < tree.nodeCount; node++) if (tree.left[node] < 0) leaves++;
      const candidate = { maxDepth, minSamplesLeaf, leaves, validation: metrics };
      candidates.push(candidate);
      const score = (c: Candidate) =>
        Number.isNaN(c.validation.rocAuc) ? -1 : c.validation.rocAuc;
      if (!best || score(candidate) > score(best.candidate)) best = { candidate, tree };
    }
  }
  if (!best) throw new RangeError('the hyperparameter grid is empty');
  candidates.sort((a, b) => a.maxDepth - b.maxDepth || a.minSamplesLeaf - b.minSamplesLeaf);
  return { candidates, best: best.candidate, tree: best.tree };
}
