import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  creditHistory,
  featureViews,
  loanTable,
  zipcodeFeatures,
} from '../features/definitions.js';
import { EmbeddedStore } from '../features/online/embedded.js';
import type { FeatureRecord } from '../features/online/types.js';
import { createApp } from '../functions/app.js';
import { createLogger } from '../functions/logger.js';
import { loadModelArtifact } from './artifact.js';
import { loadModel } from './model.js';
import type { AsyncCreditModel, CreditModel } from './model.js';
import { decodeOnnxModel } from './onnx-decode.js';
import { loadOnnxRuntimeCreditModel } from './onnxruntime.js';
import { TreeEnsembleEvaluator } from './tree-evaluator.js';
import type { RawRecord } from './types.js';

/**
 * Issue 2's promise to scikit-learn users: a DecisionTreeClassifier exported as skl2onnx writes it
 * (zipmap off), plus feature_names and categorical_encodings, serves unchanged and decides as
 * scikit-learn does. The fixture and scikit-learn's own outputs come from
 * fixtures/sklearn/export_sklearn_tree.py (see fixtures/sklearn/README.md); nothing here re-derives
 * the encoding: serving reads it from the file's metadata.
 */

type RawCell = string | number;
interface GoldenCase {
  kind: 'holdout' | 'holdout-unseen-city' | 'on-threshold' | 'unseen-category' | 'train';
  /** Raw (un-encoded) values in `columns` order. */
  raw: RawCell[];
  /** scikit-learn predict() */
  label: 0 | 1;
  /** scikit-learn predict_proba()[:, 1], float64 */
  p: number;
  /** scikit-learn's route: L where x <= threshold, per branch node */
  path: string;
}
interface Golden {
  versions: Record<string, string>;
  columns: string[];
  sklearnThresholds: number[];
  cases: GoldenCase[];
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sklearn');
const recordOf = (golden: Golden, c: GoldenCase): RawRecord =>
  Object.fromEntries(golden.columns.map((name, i) => [name, c.raw[i]]));
const routeOf = (path: readonly { conditionHeld: boolean }[]) =>
  path.map((step) => (step.conditionHeld ? 'L' : 'R')).join('');

/** One float32 step at p: how far float32 storage of a leaf weight may move sklearn's float64. */
function float32Ulp(p: number): number {
  const f = Math.fround(p);
  const bits = new Uint32Array(new Float32Array([f]).buffer);
  const next = new Float32Array(new Uint32Array([bits[0] + 1]).buffer)[0];
  return next - f;
}

let bytes: Uint8Array;
let golden: Golden;
let compiled: CreditModel;
let onnxruntime: AsyncCreditModel;

beforeAll(async () => {
  bytes = new Uint8Array(await readFile(join(fixtures, 'sklearn-tree.onnx')));
  golden = JSON.parse(await readFile(join(fixtures, 'sklearn-golden.json'), 'utf8'));
  compiled = await loadModel(bytes);
  onnxruntime = await loadOnnxRuntimeCreditModel(bytes);
});
afterAll(() => onnxruntime?.release());

describe('a scikit-learn tree in skl2onnx layout (fixtures/sklearn)', () => {
  it('is the file skl2onnx writes, carrying only the two serving keys as metadata', () => {
    const decoded = decodeOnnxModel(bytes);
    expect(decoded.producerName).toBe('skl2onnx');
    expect(decoded.opsetImports).toEqual([
      { domain: 'ai.onnx.ml', version: 1 },
      { domain: '', version: 15 },
    ]);
    expect(Object.keys(decoded.metadata).sort()).toEqual([
      'categorical_encodings',
      'feature_names',
    ]);
    const node = decoded.nodes[0];
    expect(node.attributes.map((a) => a.name)).toContain('nodes_hitrates');
    expect(node.attributes.map((a) => a.name)).toContain('nodes_missing_value_tracks_true');
    // No `version` key: serving names the model by a content hash.
    expect(compiled.artifact.version).toMatch(/^[0-9a-f]{12}$/);
    expect(compiled.requiredInputs).toEqual(golden.columns);
  });

  it('stores each split as the largest float32 at or below scikit-learn’s float64 threshold', async () => {
    const { ensemble } = await loadModelArtifact(bytes);
    let branches = 0;
    ensemble.nodes_modes.forEach((mode, i) => {
      if (mode === 'LEAF') return;
      branches++;
      const t = golden.sklearnThresholds[ensemble.nodes_nodeids[i]];
      const stored = ensemble.nodes_values[i];
      expect(stored).toBe(Math.fround(stored));
      expect(stored).toBeLessThanOrEqual(t);
      expect(float32Ulp(stored) + stored).toBeGreaterThan(t);
    });
    expect(branches).toBe(golden.sklearnThresholds.filter((t) => t !== -2).length);
  });

  it('covers unseen categories, on-threshold values and both labels', () => {
    const count = (kind: GoldenCase['kind']) => golden.cases.filter((c) => c.kind === kind).length;
    expect(golden.cases.length).toBeGreaterThanOrEqual(1500);
    expect(count('on-threshold')).toBeGreaterThanOrEqual(100);
    expect(count('holdout-unseen-city') + count('unseen-category')).toBeGreaterThanOrEqual(100);
    expect(new Set(golden.cases.map((c) => c.label))).toEqual(new Set([0, 1]));
    const city = golden.columns.indexOf('city');
    const cities = new Set(compiled.artifact.categoricalEncodings.city);
    expect(golden.cases.some((c) => !cities.has(String(c.raw[city])))).toBe(true);
  });

  it.each([['compiled'], ['onnxruntime']] as const)(
    '%s runtime: scikit-learn’s label, route and probability on every golden row',
    async (runtime) => {
      const model = runtime === 'compiled' ? compiled : onnxruntime;
      const mismatches: string[] = [];
      let exactFloat32 = 0;
      for (const [i, c] of golden.cases.entries()) {
        const { prediction } = await model.predict(recordOf(golden, c));
        const p = prediction.probabilities[1];
        // Leaf weights are float32 in ONNX; scikit-learn divides in float64.
        if (p === Math.fround(c.p)) exactFloat32++;
        if (
          prediction.label !== c.label ||
          Math.abs(p - c.p) > float32Ulp(c.p) ||
          routeOf(prediction.path) !== c.path
        ) {
          mismatches.push(
            `row ${i} (${c.kind}): label ${prediction.label} vs ${c.label}, p ${p} vs ${c.p}, route ${routeOf(prediction.path)} vs ${c.path}`,
          );
        }
      }
      expect(mismatches).toEqual([]);
      // Today every weight is scikit-learn's probability rounded to nearest float32.
      expect(exactFloat32).toBe(golden.cases.length);
    },
  );

  it('the two runtimes agree bit for bit', async () => {
    for (const c of golden.cases) {
      const raw = recordOf(golden, c);
      const a = compiled.predict(raw).prediction;
      const b = (await onnxruntime.predict(raw)).prediction;
      expect([b.label, ...b.probabilities]).toEqual([a.label, ...a.probabilities]);
    }
  });

  it('its on-threshold rows catch thresholds rounded to nearest (what a naive export writes)', async () => {
    const { ensemble } = await loadModelArtifact(bytes);
    const nearest = new TreeEnsembleEvaluator(
      {
        ...ensemble,
        nodes_values: ensemble.nodes_values.map((value, i) =>
          ensemble.nodes_modes[i] === 'LEAF'
            ? value
            : Math.fround(golden.sklearnThresholds[ensemble.nodes_nodeids[i]]),
        ),
      },
      compiled.artifact.featureNames,
    );
    const flipped = golden.cases.filter(
      (c) => routeOf(nearest.predictWithPath(compiled.encode(recordOf(golden, c))).path) !== c.path,
    );
    expect(flipped.length).toBeGreaterThan(0);
    expect(new Set(flipped.map((c) => c.kind))).toEqual(new Set(['on-threshold']));
  });
});

describe('the scikit-learn tree served through POST /loan-decisions', () => {
  it('gives scikit-learn’s decisions for applicants whose features come from the store', async () => {
    const store = new EmbeddedStore();
    const model = await loadModel(bytes);
    const app = createApp({
      decision: { store, model, views: featureViews, policy: {} },
      logger: createLogger('silent'),
      storeName: store.name,
      requestDeadlineMs: 5_000,
      maxBodyBytes: 256 * 1024,
    });
    // Every 10th row, plus every on-threshold row the request schema accepts (whole ages).
    const age = golden.columns.indexOf('person_age');
    const chosen = golden.cases.filter(
      (c, i) =>
        (c.kind === 'on-threshold' && Number.isInteger(c.raw[age])) ||
        (c.kind !== 'on-threshold' && i % 10 === 0),
    );
    expect(chosen.length).toBeGreaterThan(200);
    const keysOf = (i: number) => ({
      zipcode: 10_000 + i,
      dob_ssn: `19900101_${String(i).padStart(4, '0')}`,
    });
    const now = Date.now();
    const records: FeatureRecord[] = chosen.flatMap((c, i) =>
      [zipcodeFeatures, creditHistory].map((view) => ({
        view,
        entityKey: keysOf(i)[view.entity.name],
        eventTimestamp: now,
        createdTimestamp: now,
        values: Object.fromEntries(
          view.features.map((f) => [f.name, recordOf(golden, c)[f.name] ?? null]),
        ),
      })),
    );
    await store.write(records);

    for (let start = 0; start < chosen.length; start += 100) {
      const batch = chosen.slice(start, start + 100);
      const response = await app.request('/loan-decisions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          applications: batch.map((c, k) => ({
            ...keysOf(start + k),
            ...Object.fromEntries(
              loanTable.requestFeatures.map((name) => [name, recordOf(golden, c)[name]]),
            ),
          })),
        }),
      });
      expect(response.status).toBe(200);
      const { results } = (await response.json()) as { results: any[] };
      results.forEach((item, k) => {
        const c = batch[k];
        const where = `row ${start + k} (${c.kind}): ${JSON.stringify(item.error)}`;
        expect(item.status, where).toBe(200);
        expect(item.decision, where).toBe(c.label === 1 ? 'rejected' : 'approved');
        expect(item.probability_of_default, where).toBe(Math.fround(c.p));
      });
    }
  });
});
