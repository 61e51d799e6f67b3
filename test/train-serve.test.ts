import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  creditHistory,
  featureViews,
  loanTable,
  zipcodeFeatures,
} from '../features/definitions.js';
import { generateSampleTables, sampleTableToParquet } from '../features/offline/sample-data.js';
import { EmbeddedStore } from '../features/online/embedded.js';
import type { FeatureRecord, FeatureValue } from '../features/online/types.js';
import { createApp } from '../functions/app.js';
import { createLogger } from '../functions/logger.js';
import { loadModel } from '../model/model.js';
import { predictProbabilities } from '../model/train/decision-tree.js';
import { encodeFeatureColumns } from '../model/train/feature-matrix.js';
import { trainFromSource, type TrainResult } from '../model/train/train-pipeline.js';

/**
 * Issue 3's end-to-end promise: train on generated data, serve the artifact through the HTTP API,
 * and get the trainer's own predictions back. Each kept loan's point-in-time features are put in
 * the online store under a key of its own, so the API sees exactly what the trainer saw.
 */

let dir: string;
let result: TrainResult;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'train-serve-'));
  for (const table of generateSampleTables({ loans: 600, zipcodes: 150, seed: 5 })) {
    await writeFile(path.join(dir, table.file), new Uint8Array(sampleTableToParquet(table)));
  }
  result = await trainFromSource({ data: dir, seed: 7 });
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const valueAt = (column: Float64Array | (string | null)[], row: number): FeatureValue => {
  const value = column[row];
  return value === null || (typeof value === 'number' && Number.isNaN(value)) ? null : value;
};

describe('a freshly trained model served through POST /loan-decisions', () => {
  it('answers every kept loan with the trainer’s probability and label', async () => {
    const { set, tree, encodings, bytes } = result;
    const loans = set.labels.length;
    expect(loans).toBeGreaterThan(100);
    const rows = Int32Array.from({ length: loans }, (_, i) => i);
    const trainerP = predictProbabilities(tree, encodeFeatureColumns(set, rows, encodings));

    const store = new EmbeddedStore();
    const now = Date.now();
    const keysOf = (i: number) => ({
      zipcode: 10_000 + i,
      dob_ssn: `19900101_${String(i).padStart(4, '0')}`,
    });
    const records: FeatureRecord[] = [];
    for (let i = 0; i < loans; i++) {
      for (const view of [zipcodeFeatures, creditHistory]) {
        records.push({
          view,
          entityKey: keysOf(i)[view.entity.name],
          eventTimestamp: now,
          createdTimestamp: now,
          values: Object.fromEntries(
            view.features.map((f) => [f.name, valueAt(set.columns[f.name], i)]),
          ),
        });
      }
    }
    await store.write(records);

    const model = await loadModel(bytes);
    const app = createApp({
      decision: { store, model, views: featureViews, policy: {} },
      logger: createLogger('silent'),
      storeName: store.name,
      requestDeadlineMs: 5_000,
    });

    const applications = Array.from({ length: loans }, (_, i) => ({
      ...keysOf(i),
      ...Object.fromEntries(
        loanTable.requestFeatures.map((name) => [name, valueAt(set.columns[name], i)]),
      ),
    }));
    // person_emp_length / loan_int_rate may be null (missing); the schema accepts that.
    for (let start = 0; start < loans; start += 100) {
      const response = await app.request('/loan-decisions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ applications: applications.slice(start, start + 100) }),
      });
      expect(response.status).toBe(200);
      const { results } = await response.json();
      results.forEach((item: any, k: number) => {
        const i = start + k;
        expect(item.status, `loan ${i}: ${JSON.stringify(item.error)}`).toBe(200);
        expect(item.probability_of_default).toBe(Math.fround(trainerP[i]));
        expect(item.decision).toBe(trainerP[i] > 0.5 ? 'rejected' : 'approved');
      });
    }
  });
});
