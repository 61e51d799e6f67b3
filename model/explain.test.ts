import { describe, expect, it } from 'vitest';
import { loadModelArtifact } from './artifact.js';
import { createFeatureEncoder } from './encoding.js';
import { explainPath, formatFloat32 } from './explain.js';
import { encodeTreeEnsembleModel, float32AtOrBelow } from './onnx.js';
import { TreeEnsembleEvaluator } from './tree-evaluator.js';
import type { RawRecord } from './types.js';

/**
 * 0 loan_int_rate <= 15.5 ──true→ 1 person_home_ownership <= 1.5 (MORTGAGE, OTHER) → leaves 3 / 4
 *                        └─false→ 2 person_emp_length > 2 (missing → true) → leaves 5 / 6
 * 1 in a second tree: loan_intent == 1 (MEDICAL)
 */
async function craftedModel() {
  const bytes = encodeTreeEnsembleModel(
    {
      nodes_treeids: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
      nodes_nodeids: [0, 1, 2, 3, 4, 5, 6, 0, 1, 2],
      nodes_featureids: [0, 1, 2, 0, 0, 0, 0, 3, 0, 0],
      nodes_values: [15.5, 1.5, 2, 0, 0, 0, 0, 1, 0, 0],
      nodes_modes: [
        'BRANCH_LEQ',
        'BRANCH_LEQ',
        'BRANCH_GT',
        'LEAF',
        'LEAF',
        'LEAF',
        'LEAF',
        'BRANCH_EQ',
        'LEAF',
        'LEAF',
      ],
      nodes_truenodeids: [1, 3, 5, 0, 0, 0, 0, 1, 0, 0],
      nodes_falsenodeids: [2, 4, 6, 0, 0, 0, 0, 2, 0, 0],
      nodes_missing_value_tracks_true: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
      class_treeids: [0, 0, 0, 0, 1, 1],
      class_nodeids: [3, 4, 5, 6, 1, 2],
      class_ids: [0, 0, 0, 0, 0, 0],
      class_weights: [0.1, 0.2, 0.3, 0.4, 0.2, 0.1],
      classlabels_int64s: [0, 1],
    },
    {
      featureNames: ['loan_int_rate', 'person_home_ownership', 'person_emp_length', 'loan_intent'],
      categoricalEncodings: {
        person_home_ownership: ['MORTGAGE', 'OTHER', 'OWN', 'RENT'],
        loan_intent: ['EDUCATION', 'MEDICAL', 'PERSONAL'],
      },
    },
  );
  const { artifact, ensemble } = await loadModelArtifact(bytes);
  const evaluator = new TreeEnsembleEvaluator(ensemble, artifact.featureNames);
  const encode = createFeatureEncoder(artifact);
  return (raw: RawRecord) =>
    explainPath(artifact, evaluator.predictWithPath(encode(raw)).path, raw);
}

describe('explainPath', () => {
  it('turns numeric steps into comparisons and ordinal codes into category sets, with raw values', async () => {
    const explain = await craftedModel();
    expect(
      explain({ loan_int_rate: 12, person_home_ownership: 'RENT', loan_intent: 'MEDICAL' }),
    ).toEqual([
      { feature: 'loan_int_rate', condition: 'loan_int_rate <= 15.5', value: 12 },
      {
        feature: 'person_home_ownership',
        condition: 'person_home_ownership in [OWN, RENT]',
        value: 'RENT',
      },
      { feature: 'loan_intent', condition: 'loan_intent in [MEDICAL]', value: 'MEDICAL' },
    ]);
  });

  it('uses the operator of the branch taken, for every mode', async () => {
    const explain = await craftedModel();
    const reasons = explain({
      loan_int_rate: 16.02,
      person_emp_length: 1,
      loan_intent: 'PERSONAL',
    });
    expect(reasons.map((reason) => reason.condition)).toEqual([
      'loan_int_rate > 15.5',
      'person_emp_length <= 2',
      'loan_intent in [EDUCATION, PERSONAL]',
    ]);
    expect(reasons[0].value).toBe(16.02);
  });

  it('says a value is missing, and reports it as null', async () => {
    const explain = await craftedModel();
    const reasons = explain({ loan_int_rate: 20, loan_intent: null });
    expect(reasons).toEqual([
      { feature: 'loan_int_rate', condition: 'loan_int_rate > 15.5', value: 20 },
      { feature: 'person_emp_length', condition: 'person_emp_length is missing', value: null },
      { feature: 'loan_intent', condition: 'loan_intent is missing', value: null },
    ]);
  });

  it('names an unseen category and keeps the applicant’s own value', async () => {
    const explain = await craftedModel();
    const [, ownership] = explain({
      loan_int_rate: 1,
      person_home_ownership: 'CASTLE',
      loan_intent: 'EDUCATION',
    });
    expect(ownership).toEqual({
      feature: 'person_home_ownership',
      condition: 'person_home_ownership in [(unseen category), MORTGAGE, OTHER]',
      value: 'CASTLE',
    });
  });
});

describe('formatFloat32', () => {
  it.each([
    [Math.fround(15.5), '15.5'],
    [Math.fround(16.02), '16.02'],
    [Math.fround(0.1), '0.1'],
    [float32AtOrBelow(0.1), '0.099999994'],
    [50000, '50000'],
    [-0.5, '-0.5'],
  ])('prints float32 %d as %s', (value, text) => {
    expect(formatFloat32(value)).toBe(text);
    expect(Math.fround(Number(text))).toBe(value);
  });
});
