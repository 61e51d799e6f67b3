import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { featureViews } from '../features/definitions.js';
import type { ViewResults } from '../features/online/types.js';
import { loadModel } from '../model/model.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import { createModelInputBuilder, type ApplicationInput } from './decision.js';
import { DEFAULT_MODEL_PATH } from './node-runtime.js';

const model = await loadModel(new Uint8Array(await readFile(DEFAULT_MODEL_PATH)));
const present = (rows: ReturnType<typeof zipcodeRecord | typeof creditRecord>[]) =>
  Object.fromEntries(
    rows.map((row) => [
      row.view.name,
      { status: 'present', eventTimestamp: row.eventTimestamp, values: row.values },
    ]),
  ) as ViewResults;

describe('createModelInputBuilder', () => {
  it("holds exactly the model's feature_names, from the views, else from the request", () => {
    const build = createModelInputBuilder(model, featureViews);
    const application: ApplicationInput = applicationFor('19700101_0001');
    const views = present([zipcodeRecord(), creditRecord('19700101_0001')]);
    const raw = build(application, views);
    expect(Object.keys(raw)).toEqual(model.artifact.featureNames);
    for (const name of model.artifact.featureNames) {
      const view = featureViews.find((v) => v.features.some((f) => f.name === name));
      const expected = view ? views[view.name].values[name] : application[name];
      expect(raw[name], name).toBe(expected);
    }
    // The applicant's key is not a model input: it stays out of the record the model sees.
    expect(raw).not.toHaveProperty('dob_ssn');
  });

  it('a view value wins over a request field of the same name; an absent field is undefined', () => {
    const viewFeature = model.artifact.featureNames.find((name) =>
      featureViews.some((v) => v.features.some((f) => f.name === name)),
    )!;
    const requestField = model.artifact.featureNames.find(
      (name) => !featureViews.some((v) => v.features.some((f) => f.name === name)),
    )!;
    const build = createModelInputBuilder(model, featureViews);
    const application = { ...applicationFor('19700101_0001'), [viewFeature]: 'from the request' };
    delete (application as Record<string, unknown>)[requestField];
    const raw = build(application, present([zipcodeRecord(), creditRecord('19700101_0001')]));
    expect(raw[viewFeature]).not.toBe('from the request');
    expect(raw[requestField]).toBeUndefined();
    // Records do not share state: a second build is a new record, and the first keeps its values.
    const again = build(
      applicationFor('19700101_0002'),
      present([zipcodeRecord(), creditRecord('19700101_0002')]),
    );
    expect(again).not.toBe(raw);
    expect(again[requestField]).not.toBeUndefined();
    expect(raw[requestField]).toBeUndefined();
  });
});
