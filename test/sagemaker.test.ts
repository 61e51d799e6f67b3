import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../functions/config.js';
import { createLogger } from '../functions/logger.js';
import { createNodeRuntime } from '../functions/node-runtime.js';
import {
  startSageMakerRuntimeServer,
  type SageMakerRuntimeServerHandle,
} from './harness/sagemaker-runtime-server.js';

/**
 * SageMaker scoring wired through configuration (SAGEMAKER_*), against a local server speaking
 * the SageMaker runtime API, over the embedded sample data's example applicant.
 */

const EXAMPLE = {
  zipcode: 76104,
  dob_ssn: '19630621_4278',
  person_age: 133,
  person_income: 59000,
  person_home_ownership: 'RENT',
  person_emp_length: 123.0,
  loan_intent: 'PERSONAL',
  loan_amnt: 35000,
  loan_int_rate: 16.02,
};

let server: SageMakerRuntimeServerHandle;
const savedEnv = { ...process.env };

beforeAll(async () => {
  server = await startSageMakerRuntimeServer();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: server.url,
  });
});
afterAll(async () => {
  process.env = savedEnv;
  await server?.stop();
});

async function runtime(mode: 'primary' | 'shadow') {
  const logs: string[] = [];
  const rt = await createNodeRuntime(
    parseConfig({
      SAGEMAKER_ENDPOINT: 'credit-model',
      SAGEMAKER_MODE: mode,
      SAGEMAKER_DEADLINE_MS: '2000',
    }),
    { logger: createLogger('debug', (line) => logs.push(line)) },
  );
  const decide = async () => {
    const response = await rt.app.request('/loan-decision', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(EXAMPLE),
    });
    expect(response.status).toBe(200);
    return response.json();
  };
  return { decide, logs, close: rt.close };
}

describe('SageMaker scoring', () => {
  it('primary: SageMaker’s probability decides; the in-process tree answers when it fails', async () => {
    const { decide, logs, close } = await runtime('primary');
    server.behaviour = { kind: 'probability', probability: 0.0625 };
    const scored = await decide();
    expect(scored.scoring).toEqual({ scored_by: 'sagemaker', fallback_reason: null });
    expect(scored.probability_of_default).toBe(0.0625);
    expect(scored.decision).toBe('approved');
    // The encoded row arrived in feature_names order.
    expect(server.invocations.at(-1)!.row.length).toBeGreaterThan(10);

    server.behaviour = { kind: 'http-500' };
    const fallback = await decide();
    expect(fallback.scoring).toEqual({ scored_by: 'in-process', fallback_reason: 'error' });
    expect(fallback.probability_of_default).not.toBe(0.0625);
    expect(logs.join('\n')).not.toContain(EXAMPLE.dob_ssn);
    await close();
  });

  it('shadow: the in-process answer serves, disagreements are logged', async () => {
    const { decide, logs, close } = await runtime('shadow');
    server.behaviour = { kind: 'probability', probability: 0.0625 };
    const answer = await decide();
    expect(answer.scoring.scored_by).toBe('in-process');
    expect(answer.probability_of_default).not.toBe(0.0625);
    await expect.poll(() => logs.some((l) => l.includes('remote shadow disagreement'))).toBe(true);
    expect(logs.join('\n')).not.toContain(EXAMPLE.dob_ssn);
    await close();
  });
});
