import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startSageMakerRuntimeServer,
  type EndpointBehaviour,
  type ResponseShape,
  type SageMakerRuntimeServerHandle,
} from '../test/harness/sagemaker-runtime-server.js';
import { loadModelArtifact } from './artifact.js';
import { loadModel, type CreditModel } from './model.js';
import { RemoteScoringError, scoreWithRemote, type RemoteScore } from './remote-scoring.js';
import { SageMakerScorer, type SageMakerScorerConfig } from './sagemaker-scorer.js';
import { TreeEnsembleEvaluator } from './tree-evaluator.js';

/**
 * SageMakerScorer's real SDK client against a local endpoint speaking the runtime API, and the
 * primary / shadow policy on top of it. The endpoint "hosts" the committed model itself (the
 * tree evaluator run on the row it decoded), so agreement is computed, not assumed.
 */

const modelPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'model.onnx');
const DOB_SSN = '19990101_0042'; // synthetic; must never reach a log line

let server: SageMakerRuntimeServerHandle;
let model: CreditModel;
let hostedModel: (row: number[]) => number;
const scorers: SageMakerScorer[] = [];
let logs: string[];
const logger = { warn: (fields: Record<string, unknown>) => logs.push(JSON.stringify(fields)) };

beforeAll(async () => {
  const bytes = new Uint8Array(await readFile(modelPath));
  model = await loadModel(bytes);
  const { artifact, ensemble } = await loadModelArtifact(bytes);
  const evaluator = new TreeEnsembleEvaluator(ensemble, artifact.featureNames);
  hostedModel = (row) => evaluator.predict(Float32Array.from(row)).probabilities[1];
  server = await startSageMakerRuntimeServer();
});

afterAll(async () => {
  for (const scorer of scorers) scorer.destroy();
  await server?.stop();
});

beforeEach(() => {
  logs = [];
  server.invocations.length = 0;
  server.responseShape = undefined;
  server.behaviour = { kind: 'compute', score: hostedModel };
});

function scorer(overrides: Partial<SageMakerScorerConfig> = {}) {
  const created = new SageMakerScorer({
    endpointName: 'credit-risk-v2',
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // Generous on the shared 2-core test machine; production's default is 5 ms.
    deadlineMs: 2_000,
    mode: 'primary',
    ...overrides,
  });
  scorers.push(created);
  return created;
}

/** An applicant whose row has a missing value (NaN) and an unseen category (-1). */
function applicant() {
  const raw = {
    dob_ssn: DOB_SSN,
    zipcode: 76104,
    person_age: 133,
    person_income: 59000,
    person_home_ownership: 'CASTLE',
    person_emp_length: 123,
    loan_intent: 'PERSONAL',
    loan_amnt: 35000,
    loan_int_rate: null,
    credit_card_due: 8419,
    missed_payments_2y: 1,
  };
  const { prediction, vector } = model.predict(raw);
  const local: RemoteScore = {
    probabilityOfDefault: prediction.probabilities[1],
    label: prediction.label,
  };
  return { vector, local, featureNames: model.artifact.featureNames };
}

function sameFloat32Row(received: number[], sent: Float32Array) {
  expect(received).toHaveLength(sent.length);
  const asFloat32 = Float32Array.from(received);
  sent.forEach((value, i) => expect(Object.is(asFloat32[i], value), `value ${i}`).toBe(true));
}

describe('SageMakerScorer over the runtime API', () => {
  it.each(['text/csv', 'application/json'] as const)(
    'sends the encoded row as %s and reads back the hosted model’s answer',
    async (contentType) => {
      const { vector, local, featureNames } = applicant();
      expect(vector.some(Number.isNaN)).toBe(true);
      expect(vector.includes(-1)).toBe(true);

      const score = await scorer({ contentType }).score(vector, featureNames);

      expect(score).toEqual(local);
      const [invocation] = server.invocations;
      expect(invocation).toMatchObject({
        endpointName: 'credit-risk-v2',
        contentType,
        accept: contentType,
        signed: true,
      });
      sameFloat32Row(invocation.row, vector);
      if (contentType === 'text/csv') {
        expect(invocation.body).not.toContain('\n');
        expect(invocation.body).toMatch(/(^|,)(,|$)/); // NaN is an empty field
      } else {
        expect(JSON.parse(invocation.body).instances[0]).toContain(null);
      }
    },
  );

  it.each<[ResponseShape, SageMakerScorerConfig['contentType']]>([
    ['csv-p', 'text/csv'],
    ['csv-label-p', 'text/csv'],
    ['json-predictions', 'application/json'],
    ['json-probabilities', 'application/json'],
  ])('reads the %s response shape', async (shape, contentType) => {
    server.responseShape = shape;
    server.behaviour = { kind: 'probability', probability: 0.75 };
    const { vector, featureNames } = applicant();
    await expect(scorer({ contentType }).score(vector, featureNames)).resolves.toEqual({
      probabilityOfDefault: 0.75,
      label: 1,
    });
  });

  it.each<[string, string, EndpointBehaviour, RegExp]>([
    [
      'a ModelError (424)',
      'error',
      { kind: 'model-error' },
      /credit-risk-v2.*ModelError \(HTTP 424\)/,
    ],
    ['an InternalFailure (500)', 'error', { kind: 'http-500' }, /credit-risk-v2.*HTTP 500/],
    ['an HTML body', 'bad_response', { kind: 'garbage' }, /credit-risk-v2.*unreadable text\/csv/],
    ['a probability above 1', 'bad_response', { kind: 'garbage', body: '1.5' }, /neither "p"/],
    ['two rows', 'bad_response', { kind: 'garbage', body: '0.1\n0.2\n' }, /2 lines/],
  ])('turns %s into RemoteScoringError(%s)', async (_name, reason, behaviour, message) => {
    server.behaviour = behaviour;
    const { vector, featureNames } = applicant();
    const error = await scorer()
      .score(vector, featureNames)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteScoringError);
    expect(error).toMatchObject({ reason, endpointName: 'credit-risk-v2' });
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a JSON body of the wrong shape as bad_response', async () => {
    server.behaviour = { kind: 'garbage', body: '{"predictions":[{"score":0.2},{"score":0.3}]}' };
    const { vector, featureNames } = applicant();
    await expect(
      scorer({ contentType: 'application/json' }).score(vector, featureNames),
    ).rejects.toMatchObject({ reason: 'bad_response' });
  });

  it('gives up at its deadline with reason timeout, one attempt only', async () => {
    server.behaviour = {
      kind: 'delay',
      ms: 5_000,
      then: { kind: 'probability', probability: 0.9 },
    };
    const { vector, featureNames } = applicant();
    const started = performance.now();
    const error = await scorer({ deadlineMs: 150 })
      .score(vector, featureNames)
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ name: 'RemoteScoringError', reason: 'timeout' });
    expect((error as Error).message).toContain('within 150 ms');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_500);
    expect(server.invocations).toHaveLength(1);
  });

  it('stops when the caller’s request deadline fires first', async () => {
    server.behaviour = {
      kind: 'delay',
      ms: 5_000,
      then: { kind: 'probability', probability: 0.9 },
    };
    const { vector, featureNames } = applicant();
    const error = await scorer({ deadlineMs: 10_000 })
      .score(vector, featureNames, AbortSignal.timeout(100))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'timeout' });
    expect((error as Error).message).toContain('request deadline');
  });
});

describe('scoreWithRemote in primary mode', () => {
  it('serves SageMaker’s answer when it comes in time', async () => {
    server.behaviour = { kind: 'probability', probability: 0.97 };
    const { vector, local, featureNames } = applicant();
    expect(local.probabilityOfDefault).not.toBe(0.97);
    const result = await scoreWithRemote(local, vector, scorer(), { featureNames, logger });
    expect(result).toEqual({ probabilityOfDefault: 0.97, label: 1, scoredBy: 'sagemaker' });
    expect(logs).toEqual([]);
  });

  it.each<[string, EndpointBehaviour, Partial<SageMakerScorerConfig>, string]>([
    ['an endpoint error', { kind: 'model-error' }, {}, 'error'],
    ['garbage', { kind: 'garbage' }, {}, 'bad_response'],
    [
      'a late endpoint',
      { kind: 'delay', ms: 5_000, then: { kind: 'probability', probability: 0.97 } },
      { deadlineMs: 150 },
      'timeout',
    ],
  ])(
    'falls back to the in-process answer on %s, saying why',
    async (_n, behaviour, config, reason) => {
      server.behaviour = behaviour;
      const { vector, local, featureNames } = applicant();
      const started = performance.now();
      const result = await scoreWithRemote(local, vector, scorer(config), { featureNames, logger });
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(result).toEqual({ ...local, scoredBy: 'in-process', remoteFallbackReason: reason });
      expect(logs).toHaveLength(1);
      expect(JSON.parse(logs[0])).toMatchObject({ scorer: 'sagemaker', reason });
      expect(logs.join('\n')).not.toContain(DOB_SSN);
    },
  );
});

describe('scoreWithRemote in shadow mode', () => {
  it('answers in-process at once and logs a disagreement from the background call', async () => {
    server.behaviour = { kind: 'delay', ms: 200, then: { kind: 'probability', probability: 0.97 } };
    const { vector, local, featureNames } = applicant();
    const result = await scoreWithRemote(local, vector, scorer({ mode: 'shadow' }), {
      featureNames,
      logger,
      modelVersion: 'test-model',
    });
    expect(result).toMatchObject({ ...local, scoredBy: 'in-process' });
    expect(result.remoteFallbackReason).toBeUndefined();
    expect(logs).toEqual([]); // the remote answer is not in yet

    await result.pending;
    expect(logs).toHaveLength(1);
    const line = JSON.parse(logs[0]);
    expect(line).toMatchObject({
      msg: 'remote shadow disagreement',
      model_version: 'test-model',
      in_process: { label: local.label, probability_of_default: local.probabilityOfDefault },
      remote: { label: 1, probability_of_default: 0.97 },
      label_differs: local.label !== 1,
    });
    expect(line.probability_delta).toBeCloseTo(0.97 - local.probabilityOfDefault, 9);
    expect(logs.join('\n')).not.toContain(DOB_SSN);
    sameFloat32Row(server.invocations[0].row, vector);
  });

  it('logs nothing when the hosted model agrees', async () => {
    const { vector, local, featureNames } = applicant();
    const result = await scoreWithRemote(local, vector, scorer({ mode: 'shadow' }), {
      featureNames,
      logger,
    });
    await result.pending;
    expect(server.invocations).toHaveLength(1);
    expect(logs).toEqual([]);
  });

  it('never rejects its background work when the endpoint fails', async () => {
    server.behaviour = { kind: 'http-500' };
    const { vector, local, featureNames } = applicant();
    const result = await scoreWithRemote(local, vector, scorer({ mode: 'shadow' }), {
      featureNames,
      logger,
    });
    await expect(result.pending).resolves.toBeUndefined();
    expect(result).toMatchObject({ ...local, scoredBy: 'in-process' });
    expect(JSON.parse(logs[0])).toMatchObject({
      msg: 'remote shadow scoring failed',
      reason: 'error',
    });
  });
});
