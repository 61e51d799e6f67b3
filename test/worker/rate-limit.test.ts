/// <reference types="@cloudflare/vitest-pool-workers/types" />
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { createWorker, type WorkerEnv } from '../../functions/worker.js';
import { applicationFor } from '../fixtures/applicant.js';
import { WORKER_APPLICANT } from './applicants.js';

/**
 * The rate limiter inside workerd: @upstash/ratelimit over fetch to the Upstash bridge, its check
 * sent beside the feature read, a refused request answered with the limiter's 429.
 */

describe('the Worker with an API key and a rate limit', () => {
  it('answers within the limit from Upstash, then 429 with Retry-After', async () => {
    const key = `worker-rl-${crypto.randomUUID()}`;
    const settings: WorkerEnv = {
      ...(env as unknown as WorkerEnv),
      API_KEYS: key,
      RATE_LIMIT_PER_KEY: '2',
      // workerd's first fetches to the bridge are slow; the production default is 10 ms.
      RATE_LIMIT_TIMEOUT_MS: '2000',
    } as WorkerEnv;
    const handler = createWorker();
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const ctx = createExecutionContext();
      const response = await handler.fetch(
        new Request('https://loans.example/loan-decision', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify(applicationFor(WORKER_APPLICANT)),
        }),
        settings,
        ctx,
      );
      answers.push({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        requestId: response.headers.get('x-request-id'),
        body: (await response.json()) as Record<string, any>,
      });
      await waitOnExecutionContext(ctx);
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0].body.probability_of_default).toBe(inject('expectedProbability'));
    expect(answers[0].body.features.served_by).toBe('upstash');
    expect(answers[2].body.error.code).toBe('rate_limited');
    expect(answers[2].body.request_id).toBe(answers[2].requestId);
    expect(Number(answers[2].retryAfter)).toBeGreaterThanOrEqual(1);
  });
});
