import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelContractError, UNSEEN_CATEGORY_CODE } from './model.js';
import type { AsyncCreditModel, CreditModel } from './model.js';
import { loadOnnxRuntimeCreditModel } from './onnxruntime.js';
import {
  encodeCreditTree,
  CREDIT_CATEGORICAL_ENCODINGS,
  CREDIT_FEATURE_NAMES,
} from './fixtures/credit-tree.js';
import { createRng } from './testing/random-ensemble.js';
import type { RawRecord } from './types.js';

describe('loadModel', () => {
  let compiled: CreditModel;
  let onnxruntime: AsyncCreditModel;
  beforeAll(async () => {
    compiled = await loadModel(encodeCreditTree());
    onnxruntime = await loadOnnxRuntimeCreditModel(encodeCreditTree());
  });
  afterAll(() => onnxruntime?.release());

  it('exposes the artifact and the inputs it needs, in tensor order', () => {
    expect(compiled.runtime).toBe('compiled');
    expect(compiled.requiredInputs).toEqual(CREDIT_FEATURE_NAMES);
    expect(compiled.artifact.categoricalEncodings).toEqual(CREDIT_CATEGORICAL_ENCODINGS);
    expect(
      compiled.encode({ person_home_ownership: 'CASTLE' })[
        CREDIT_FEATURE_NAMES.indexOf('person_home_ownership')
      ],
    ).toBe(UNSEEN_CATEGORY_CODE);
  });

  it('predicts synchronously with the compiled runtime: prediction, reasons and the encoded vector', () => {
    const decision = compiled.predict({
      loan_int_rate: 16.02,
      person_income: 59000,
      loan_intent: 'PERSONAL',
    });
    expect(decision.prediction.label).toBe(0);
    expect(decision.prediction.probabilities[1]).toBe(Math.fround(0.35));
    expect(decision.reasons.map((reason) => reason.condition)).toEqual([
      'loan_int_rate > 15.5',
      'person_income > 50000',
      'loan_intent in [MEDICAL, PERSONAL, VENTURE]',
    ]);
    expect(decision.vector).toHaveLength(CREDIT_FEATURE_NAMES.length);
  });

  it('loadOnnxRuntimeCreditModel gives the same decisions, reasons and paths (asynchronously)', async () => {
    const rng = createRng(5);
    const categories = CREDIT_CATEGORICAL_ENCODINGS;
    for (let i = 0; i < 200; i++) {
      const raw: RawRecord = {
        loan_int_rate: rng.chance(0.1) ? null : rng.pick([15.5, 10, 20, rng.next() * 30]),
        person_home_ownership: rng.pick([...categories.person_home_ownership, 'CASTLE', null]),
        loan_amnt: rng.pick([20000, 20001, rng.next() * 50000]),
        missed_payments_2y: rng.int(4),
        person_income: rng.pick([50000, rng.next() * 100000, null]),
        loan_intent: rng.pick([...categories.loan_intent, 'UNKNOWN']),
      };
      const expected = compiled.predict(raw);
      const actual = await onnxruntime.predict(raw);
      expect(actual.prediction).toEqual(expected.prediction);
      expect(actual.reasons).toEqual(expected.reasons);
    }
  });

  it('rejects a broken file with ModelContractError', async () => {
    await expect(loadModel(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(ModelContractError);
  });
});
