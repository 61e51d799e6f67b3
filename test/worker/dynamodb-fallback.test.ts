/// <reference types="@cloudflare/vitest-pool-workers/types" />
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import worker, { createWorker, type WorkerEnv } from '../../functions/worker.js';
import { applicationFor } from '../fixtures/applicant.js';
import { DYNAMODB_ONLY_APPLICANT, DYNAMODB_ONLY_ZIPCODE } from './applicants.js';

/**
 * Upstash in front of DynamoDB (dynalite over signed fetch) inside workerd. The handlers are
 * called with an ExecutionContext the test owns, so it can see what went to waitUntil and wait
 * for it; other store settings get their own Worker instance (createWorker) and bindings.
 */

const bindings = env as unknown as WorkerEnv;
const dynamodbOnly = applicationFor(DYNAMODB_ONLY_APPLICANT, DYNAMODB_ONLY_ZIPCODE);

type Handler = ReturnType<typeof createWorker>;

async function decide(handler: Handler, application: unknown, settings: WorkerEnv = bindings) {
  const ctx = createExecutionContext();
  let waitUntilCalls = 0;
  const counted = new Proxy(ctx, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (prop === 'waitUntil') {
        return (work: Promise<unknown>) => {
          waitUntilCalls++;
          return target.waitUntil(work);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const request = new Request('https://loans.example/loan-decision', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(application),
  });
  const response = await handler.fetch(request, settings, counted);
  const body = (await response.json()) as Record<string, any>;
  await waitOnExecutionContext(ctx);
  return { status: response.status, body, waitUntilCalls };
}

function without(...names: string[]): WorkerEnv {
  return Object.fromEntries(Object.entries(bindings).filter(([name]) => !names.includes(name)));
}

describe('the Worker with DynamoDB behind Upstash', () => {
  it('serves an Upstash miss from DynamoDB and refills Upstash through waitUntil', async () => {
    const first = await decide(worker, dynamodbOnly);
    expect(first.status).toBe(200);
    expect(first.body.features).toMatchObject({ served_by: 'dynamodb', fallback_reason: 'miss' });
    expect(first.body.probability_of_default).toBe(inject('dynamodbExpectedProbability'));
    expect(first.waitUntilCalls).toBe(1);

    // waitOnExecutionContext has let the refill finish: Upstash now answers alone.
    const second = await decide(worker, dynamodbOnly);
    expect(second.body.features.served_by).toBe('upstash');
    expect(second.body.features.fallback_reason).toBeNull();
    expect(second.body.probability_of_default).toBe(first.body.probability_of_default);
    expect(second.waitUntilCalls).toBe(0);
  });

  it('answers from DynamoDB while Upstash answers 500', async () => {
    const settings = { ...bindings, UPSTASH_REDIS_REST_URL: inject('faultyUpstashUrl') };
    const { status, body } = await decide(createWorker(), dynamodbOnly, settings);
    expect(status).toBe(200);
    expect(body.features).toMatchObject({ served_by: 'dynamodb', fallback_reason: 'error' });
    expect(body.probability_of_default).toBe(inject('dynamodbExpectedProbability'));
  });

  it('serves from DynamoDB alone when Upstash is not configured', async () => {
    const settings = without('UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN');
    const { status, body } = await decide(createWorker(), dynamodbOnly, settings);
    expect(status).toBe(200);
    expect(body.features.served_by).toBe('dynamodb');
    expect(body.features.fallback_reason).toBeNull();
  });

  it.each([
    [
      'no store at all',
      without('UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'DYNAMODB_TABLE'),
      /needs an online store: set UPSTASH_REDIS_REST_URL .* or DYNAMODB_TABLE/,
    ],
    [
      'DynamoDB without credentials',
      without('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'),
      /DYNAMODB_TABLE is set but AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY are not/,
    ],
  ])('fails to start with a clear error for %s', async (_, settings, message) => {
    await expect(decide(createWorker(), dynamodbOnly, settings)).rejects.toThrow(message);
  });
});
