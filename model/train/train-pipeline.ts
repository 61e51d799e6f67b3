import type { S3Client } from '@aws-sdk/client-s3';
import { predictProbabilities, type DecisionTree } from './cart.js';
import { encodeFeatureColumns, fitEncodings, type CategoricalEncodings } from './feature-matrix.js';
import {
  DEFAULT_GRID,
  searchHyperparameters,
  type Candidate,
  type SearchGrid,
} from './hyperparameter-search.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';
import { exportArtifact } from './onnx-export.js';
import { splitRows } from './split.js';
import { TrainingDataError, readTrainingTables } from './training-tables.js';
import { buildTrainingSet, type TrainingSet } from './training-set.js';
import { verifyArtifact, type VerificationReport } from './verify-artifact.js';

export interface TrainOptions {
  /** Directory or s3://bucket/prefix holding the three tables. */
  readonly data: string;
  readonly seed?: number;
  /** Fix a hyperparameter instead of searching it. */
  readonly maxDepth?: number;
  readonly minSamplesLeaf?: number;
  readonly s3?: S3Client;
  /** Progress lines for a human. */
  readonly log?: (line: string) => void;
}

export interface TrainResult {
  readonly bytes: Uint8Array;
  readonly version: string;
  readonly set: TrainingSet;
  readonly split: { readonly train: number; readonly validation: number; readonly test: number };
  readonly candidates: readonly Candidate[];
  readonly chosen: Candidate;
  readonly test: ClassificationMetrics;
  readonly tree: DecisionTree;
  readonly encodings: CategoricalEncodings;
  readonly verification: VerificationReport;
  readonly timings: Readonly<Record<'readMs' | 'joinMs' | 'searchMs' | 'verifyMs', number>>;
}

/**
 * Reads the sources, builds the point-in-time training set, searches depth × leaf size on a
 * seeded validation split, exports the chosen tree (trained on the training split only, so the
 * test metrics describe exactly the shipped model) and proves the file reproduces the trainer.
 *
 * @example
 * const { bytes, test } = await trainFromSource({ data: 'features/sample', seed: 42 });
 */
export async function trainFromSource(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 42;
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const elapsed = now - t;
    t = now;
    return elapsed;
  };

  log(`reading loan_table, zipcode_table, credit_history from ${options.data}`);
  const tables = await readTrainingTables(options.data, { s3: options.s3 });
  const readMs = lap();
  log(
    `  ${tables.loans.rows} loans, ${tables.zipcodes.rows} zipcode rows, ${tables.creditHistory.rows} credit-history rows (${readMs.toFixed(0)} ms)`,
  );

  const set = buildTrainingSet(tables);
  const joinMs = lap();
  log(
    `point-in-time join of ${set.loansRead} loans: ${set.joinMs.toFixed(1)} ms (frame assembled in ${joinMs.toFixed(1)} ms)`,
  );
  for (const { view, loans, reason } of set.dropped)
    log(`  dropped ${loans} loans for ${view}: ${reason}`);
  log(
    `  kept ${set.labels.length} of ${set.loansRead} loans (a loan needs a row in every feature view; missing values inside a row stay NaN)`,
  );
  const minimum = 20;
  if (set.labels.length < minimum) {
    throw new TrainingDataError(
      tables.loans.location,
      undefined,
      `only ${set.labels.length} loans have features in every view; at least ${minimum} are needed to train and test`,
    );
  }

  const split = splitRows(set.labels.length, seed);
  const encodings = fitEncodings(set, split.train);
  const matrix = (rows: Int32Array) => ({
    columns: encodeFeatureColumns(set, rows, encodings),
    labels: rows.length ? Uint8Array.from(rows, (row) => set.labels[row]) : new Uint8Array(),
  });
  const train = matrix(split.train);
  const validation = matrix(split.validation);
  const test = matrix(split.test);
  log(
    `split (seed ${seed}): ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test`,
  );
  if (!train.labels.includes(0) || !train.labels.includes(1)) {
    throw new TrainingDataError(
      tables.loans.location,
      'loan_status',
      'the training split holds only one class; a classifier needs defaulted and repaid loans',
    );
  }

  const grid: SearchGrid = {
    maxDepth: options.maxDepth !== undefined ? [options.maxDepth] : DEFAULT_GRID.maxDepth,
    minSamplesLeaf:
      options.minSamplesLeaf !== undefined ? [options.minSamplesLeaf] : DEFAULT_GRID.minSamplesLeaf,
  };
  const search = searchHyperparameters(train, validation, grid, seed);
  const searchMs = lap();
  log(
    `trained ${search.candidates.length} trees in ${searchMs.toFixed(0)} ms; chosen max_depth=${search.best.maxDepth} min_samples_leaf=${search.best.minSamplesLeaf} (validation ROC AUC ${search.best.validation.rocAuc.toFixed(4)})`,
  );

  const testMetrics = classificationMetrics(
    test.labels,
    predictProbabilities(search.tree, test.columns),
  );
  let minTime = Infinity;
  let maxTime = -Infinity;
  for (const time of set.eventTimestamps) {
    minTime = Math.min(minTime, time);
    maxTime = Math.max(maxTime, time);
  }
  const { bytes, version } = exportArtifact({
    tree: search.tree,
    featureNames: set.featureNames,
    categoricalEncodings: encodings,
    metadata: {
      metrics: JSON.stringify({ test: testMetrics, validation: search.best.validation }),
      hyperparameters: JSON.stringify({
        criterion: 'gini',
        max_depth: search.best.maxDepth,
        min_samples_leaf: search.best.minSamplesLeaf,
        random_state: seed,
      }),
      training_data_range: JSON.stringify({
        start: new Date(minTime).toISOString(),
        end: new Date(maxTime).toISOString(),
      }),
      training_rows: JSON.stringify({
        loans_read: set.loansRead,
        kept: set.labels.length,
        train: split.train.length,
        validation: split.validation.length,
        test: split.test.length,
      }),
      model_type:
        'sklearn-compatible DecisionTreeClassifier (gini, best splitter), trained by model/train/cart.ts',
    },
  });
  lap();

  const trainProbabilities = predictProbabilities(search.tree, train.columns);
  const verification = await verifyArtifact(
    bytes,
    set,
    split.train,
    train.columns,
    trainProbabilities,
  );
  const verifyMs = lap();
  log(
    `verified ${verification.rows} training rows with the compiled evaluator and onnxruntime-web: labels equal, max |ΔP| ${verification.maxProbabilityDifference.toExponential(2)} (${verifyMs.toFixed(0)} ms)`,
  );

  return {
    bytes,
    version,
    set,
    split: {
      train: split.train.length,
      validation: split.validation.length,
      test: split.test.length,
    },
    candidates: search.candidates,
    chosen: search.best,
    test: testMetrics,
    tree: search.tree,
    encodings,
    verification,
    timings: { readMs, joinMs, searchMs, verifyMs },
  };
}
