import { afterAll, describe, expect, it } from 'vitest';
import { loadModelArtifact } from './artifact.js';
import { encodeTreeEnsembleModel, nextFloat32Down, nextFloat32Up } from './onnx.js';
import type { NodeMode } from './onnx.js';
import { OnnxRuntimeModel } from './onnxruntime.js';
import {
  createRandomEnsemble,
  encodeRandomEnsemble,
  randomFeatureRows,
} from './testing/random-ensemble.js';
import type { RandomEnsembleOptions } from './testing/random-ensemble.js';
import { TreeEnsembleEvaluator } from './tree-evaluator.js';

const ROWS_PER_ENSEMBLE = 400;
const sessions: OnnxRuntimeModel[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((session) => session.release()));
});

async function compileBoth(bytes: Uint8Array) {
  const { artifact, ensemble } = await loadModelArtifact(bytes);
  const evaluator = new TreeEnsembleEvaluator(ensemble, artifact.featureNames);
  const runtime = await OnnxRuntimeModel.create(bytes);
  sessions.push(runtime);
  return { evaluator, runtime, width: artifact.featureNames.length };
}

/** Rows where the two runtimes differ in label or in any probability bit. */
async function mismatches(bytes: Uint8Array, rows: Float32Array, rowCount: number) {
  const { evaluator, runtime } = await compileBoth(bytes);
  const compiled = evaluator.predictBatch(rows, rowCount);
  const oracle = await runtime.predict(rows, rowCount);
  const compiledBits = new Uint32Array(compiled.probabilities.buffer);
  const oracleBits = new Uint32Array(oracle.probabilities.buffer);
  const differing: string[] = [];
  for (let r = 0; r < rowCount; r++) {
    if (
      BigInt(compiled.labels[r]) !== oracle.labels[r] ||
      compiledBits[2 * r] !== oracleBits[2 * r] ||
      compiledBits[2 * r + 1] !== oracleBits[2 * r + 1]
    ) {
      differing.push(
        `row ${r}: compiled ${compiled.labels[r]} [${compiled.probabilities.subarray(2 * r, 2 * r + 2).join(', ')}] ` +
          `onnxruntime ${oracle.labels[r]} [${oracle.probabilities.subarray(2 * r, 2 * r + 2).join(', ')}]`,
      );
    }
  }
  return { differing, compiled };
}

const families: [string, RandomEnsembleOptions][] = [
  ['scikit-learn shaped (BRANCH_LEQ, preorder ids)', { style: 'sklearn' }],
  ['all six modes, missing tracks, shuffled nodes', { style: 'mixed' }],
  [
    'one non-LEQ mode with missing tracks (onnxruntime same-mode loop)',
    { style: 'mixed', modes: ['BRANCH_GT'] },
  ],
  [
    'equality splits on category codes',
    { style: 'mixed', modes: ['BRANCH_EQ', 'BRANCH_NEQ'], featureCount: 3 },
  ],
  ['many trees (float32 sums over 30 leaves)', { style: 'sklearn', treeCount: 30, maxDepth: 4 }],
];

describe('compiled evaluator vs onnxruntime-web: bitwise parity', () => {
  it.each(families)('%s', async (_, options) => {
    let labelOnes = 0;
    let rowsChecked = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const ensemble = createRandomEnsemble(seed * 101 + rowsChecked, options);
      const rows = randomFeatureRows(ensemble, ROWS_PER_ENSEMBLE, seed);
      const { differing, compiled } = await mismatches(
        encodeRandomEnsemble(ensemble),
        rows,
        ROWS_PER_ENSEMBLE,
      );
      expect(differing.slice(0, 5), `seed ${seed}`).toEqual([]);
      labelOnes += compiled.labels.reduce((sum, label) => sum + label, 0);
      rowsChecked += ROWS_PER_ENSEMBLE;
    }
    // The comparison means something only if both labels occur.
    expect(labelOnes).toBeGreaterThan(0);
    expect(labelOnes).toBeLessThan(rowsChecked);
  });

  it('agrees row by row too (onnxruntime has a separate single-row path)', async () => {
    const ensemble = createRandomEnsemble(7, { style: 'mixed', treeCount: 4 });
    const { evaluator, runtime, width } = await compileBoth(encodeRandomEnsemble(ensemble));
    const rows = randomFeatureRows(ensemble, 60, 99);
    for (let r = 0; r < 60; r++) {
      const row = rows.slice(r * width, (r + 1) * width);
      const oracle = await runtime.predict(row, 1);
      const compiled = evaluator.predict(row);
      expect(compiled.label).toBe(Number(oracle.labels[0]));
      expect(Float32Array.from(compiled.probabilities)).toEqual(oracle.probabilities);
    }
  });

  it.each([
    'BRANCH_LEQ',
    'BRANCH_LT',
    'BRANCH_GTE',
    'BRANCH_GT',
    'BRANCH_EQ',
    'BRANCH_NEQ',
  ] as NodeMode[])(
    '%s on, just below and just above the threshold, NaN with and without missing tracks',
    async (mode) => {
      const threshold = Math.fround(16.02);
      const bytes = encodeTreeEnsembleModel(
        {
          nodes_treeids: [0, 0, 0, 1, 1, 1],
          nodes_nodeids: [0, 1, 2, 0, 1, 2],
          nodes_featureids: [0, 0, 0, 0, 0, 0],
          nodes_values: [threshold, 0, 0, threshold, 0, 0],
          nodes_modes: [mode, 'LEAF', 'LEAF', mode, 'LEAF', 'LEAF'],
          nodes_truenodeids: [1, 0, 0, 1, 0, 0],
          nodes_falsenodeids: [2, 0, 0, 2, 0, 0],
          nodes_missing_value_tracks_true: [0, 0, 0, 1, 0, 0],
          class_treeids: [0, 0, 1, 1],
          class_nodeids: [1, 2, 1, 2],
          class_ids: [0, 0, 0, 0],
          class_weights: [0.5, 0.125, 0.25, 0.0625],
          classlabels_int64s: [0, 1],
        },
        { featureNames: ['loan_int_rate'], categoricalEncodings: {} },
      );
      const inputs = [
        threshold,
        nextFloat32Down(threshold),
        nextFloat32Up(threshold),
        NaN,
        -0,
        Infinity,
        -Infinity,
      ];
      const { differing, compiled } = await mismatches(
        bytes,
        Float32Array.from(inputs),
        inputs.length,
      );
      expect(differing).toEqual([]);
      // Each tree's branch shows in the sum: true/false per tree gives a distinct P(class 1).
      expect(new Set(compiled.probabilities.filter((_, i) => i % 2 === 1)).size).toBeGreaterThan(1);
    },
  );
});

describe('TreeEnsembleEvaluator', () => {
  it('labels P(class 1) == 0.5 as 0, as onnxruntime does (label 1 needs p > 0.5)', async () => {
    const bytes = encodeTreeEnsembleModel(
      {
        nodes_treeids: [0, 0, 0],
        nodes_nodeids: [0, 1, 2],
        nodes_featureids: [0, 0, 0],
        nodes_values: [1, 0, 0],
        nodes_modes: ['BRANCH_LEQ', 'LEAF', 'LEAF'],
        nodes_truenodeids: [1, 0, 0],
        nodes_falsenodeids: [2, 0, 0],
        class_treeids: [0, 0],
        class_nodeids: [1, 2],
        class_ids: [0, 0],
        class_weights: [0.5, nextFloat32Up(0.5)],
        classlabels_int64s: [0, 1],
      },
      { featureNames: ['x'], categoricalEncodings: {} },
    );
    const { evaluator, runtime } = await compileBoth(bytes);
    const oracle = await runtime.predict(Float32Array.from([0, 2]), 2);
    expect(Array.from(oracle.labels)).toEqual([0n, 1n]);
    expect(evaluator.predict(Float32Array.from([0])).label).toBe(0);
    expect(evaluator.predict(Float32Array.from([2])).label).toBe(1);
    expect(evaluator.predict(Float32Array.from([0])).probabilities).toEqual([0.5, 0.5]);
  });

  it('predictWithPath returns predict’s result and a root-to-leaf path per tree', async () => {
    const ensemble = createRandomEnsemble(3, { style: 'mixed', treeCount: 3 });
    const { ensemble: spec, artifact } = await loadModelArtifact(encodeRandomEnsemble(ensemble));
    const evaluator = new TreeEnsembleEvaluator(spec, artifact.featureNames);
    const rows = randomFeatureRows(ensemble, 200, 5);
    const width = artifact.featureNames.length;
    for (let r = 0; r < 200; r++) {
      const row = rows.subarray(r * width, (r + 1) * width);
      const explained = evaluator.predictWithPath(row);
      const plain = evaluator.predict(row);
      expect(explained.label).toBe(plain.label);
      expect(explained.probabilities).toEqual(plain.probabilities);
      for (const step of explained.path) {
        expect(step.feature).toBe(artifact.featureNames[step.featureIndex]);
        expect(Object.is(step.input, row[step.featureIndex])).toBe(true);
      }
    }
  });
});
