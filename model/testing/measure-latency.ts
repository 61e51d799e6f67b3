/**
 * Quick local latency check of the compiled runtime (not a test: speed is measured, not asserted).
 * Run: npx tsx model/testing/measure-latency.ts [model.onnx]
 */
import { readFile } from 'node:fs/promises';
import { loadModelArtifact } from '../artifact.js';
import { createFeatureEncoder } from '../encoding.js';
import { createPathExplainer } from '../explain.js';
import { loadModel } from '../model.js';
import { TreeEnsembleEvaluator } from '../tree-evaluator.js';
import { encodeCreditTree } from '../fixtures/credit-tree.js';
import { createRandomEnsemble, randomFeatureRows } from './random-ensemble.js';
import type { RawRecord } from '../types.js';

const ITERATIONS = 200_000;

function nsPerCall(run: (i: number) => unknown): number {
  for (let i = 0; i < 20_000; i++) run(i); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) run(i);
  return Number(process.hrtime.bigint() - start) / ITERATIONS;
}

async function report(label: string, bytes: Uint8Array, raw: RawRecord) {
  const started = performance.now();
  const model = await loadModel(bytes);
  const loadMs = performance.now() - started;
  const { artifact, ensemble } = await loadModelArtifact(bytes);
  const evaluator = new TreeEnsembleEvaluator(ensemble, artifact.featureNames);
  const encode = createFeatureEncoder(artifact);
  const row = encode(raw);
  const out = new Float32Array(artifact.featureNames.length);
  console.log(
    `${label}: ${ensemble.nodes_nodeids.length} nodes, ${evaluator.treeCount} tree(s), load ${loadMs.toFixed(1)} ms`,
  );
  console.log(
    `  evaluator.predict         ${nsPerCall(() => evaluator.predict(row)).toFixed(0)} ns/row`,
  );
  console.log(
    `  evaluator.predictWithPath ${nsPerCall(() => evaluator.predictWithPath(row)).toFixed(0)} ns/row`,
  );
  const explain = createPathExplainer(artifact);
  const { path } = evaluator.predictWithPath(row);
  console.log(
    `  explain (${path.length} steps)        ${nsPerCall(() => explain(path, raw)).toFixed(0)} ns/row`,
  );
  console.log(`  encode (into buffer)      ${nsPerCall(() => encode(raw, out)).toFixed(0)} ns/row`);
  console.log(
    `  model.predict (all)       ${nsPerCall(() => model.predict(raw)).toFixed(0)} ns/row`,
  );
}

const applicant: RawRecord = {
  person_age: 133,
  person_income: 59000,
  person_home_ownership: 'RENT',
  person_emp_length: 123,
  loan_intent: 'PERSONAL',
  loan_amnt: 35000,
  loan_int_rate: 16.02,
  city: 'FORT WORTH',
  state: 'TX',
  location_type: 'PRIMARY',
  missed_payments_2y: 0,
  credit_card_due: 500,
  hard_pulls: 1,
};
await report('fixture credit-tree', encodeCreditTree(), applicant);
const path = process.argv[2];
if (path) await report(path, new Uint8Array(await readFile(path)), applicant);
const forest = createRandomEnsemble(1, { style: 'sklearn', treeCount: 1, maxDepth: 10 });
const forestRow = randomFeatureRows(forest, 1, 1);
const forestEvaluator = new TreeEnsembleEvaluator(forest.spec);
console.log(
  `random depth-10 tree: evaluator.predict ${nsPerCall(() => forestEvaluator.predict(forestRow)).toFixed(0)} ns/row`,
);
