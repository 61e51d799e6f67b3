/// <reference types="@cloudflare/vitest-pool-workers/types" />
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { Redis } from '@upstash/redis';
import { describe, expect, inject, it } from 'vitest';
import { serializeUnit } from '../../features/materialize/unit-message.js';
import worker, { createWorker, type WorkerEnv } from '../../functions/worker.js';
import type { UnitQueueProducer } from '../../functions/worker-materialize.js';

/**
 * Materialization inside workerd: the cron's `scheduled` reads the Parquet sources from s3rver
 * over signed fetch and enqueues units on miniflare's real queue (wrangler.jsonc); the queue
 * delivers them to the Worker's `queue` handler, which writes Upstash and DynamoDB. Serving
 * then answers from Upstash.
 */

const bindings = env as unknown as WorkerEnv;
const QUEUE = 'loan-materialize-units';
const VIEWS = ['zipcode_features', 'credit_history'] as const;
const redis = new Redis({ url: inject('upstashUrl'), token: inject('upstashToken') });

type Handler = ReturnType<typeof createWorker>;

async function watermarks(prefix: string): Promise<(number | null)[]> {
  const values = await Promise.all(
    VIEWS.map((view) => redis.hget<string>(`${prefix}_materialization:watermarks`, view)),
  );
  return values.map((value) => (value === null ? null : Number(value)));
}

/** The real queue binding, with the messages of each sendBatch counted on their way through. */
function countingQueue(queue: UnitQueueProducer) {
  const batches: number[] = [];
  const counted: UnitQueueProducer = {
    sendBatch(messages) {
      const list = [...messages];
      batches.push(list.length);
      return queue.sendBatch(list);
    },
  };
  return { batches, queue: counted };
}

async function runScheduled(handler: Handler, settings: WorkerEnv, scheduledTime: number) {
  const ctx = createExecutionContext();
  const controller = createScheduledController({ scheduledTime, cron: '*/15 * * * *' });
  await handler.scheduled(controller, settings, ctx);
  await waitOnExecutionContext(ctx);
}

async function decide(handler: Handler, settings: WorkerEnv) {
  const ctx = createExecutionContext();
  const response = await handler.fetch(
    new Request('https://loans.example/loan-decision', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(inject('materializedApplication')),
    }),
    settings,
    ctx,
  );
  const body = (await response.json()) as Record<string, any>;
  await waitOnExecutionContext(ctx);
  return { status: response.status, body };
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('materialization on the Worker', () => {
  it('cron → real queue → consumer: the applicant is then served from Upstash, and the watermark moved', async () => {
    const end = inject('scheduledTime');
    expect((await decide(worker, bindings)).status).toBe(422); // only in Parquet so far
    expect(await watermarks('loan:')).toEqual([null, null]);

    const first = countingQueue(bindings.MATERIALIZE_QUEUE!);
    await runScheduled(worker, { ...bindings, MATERIALIZE_QUEUE: first.queue }, end);
    // 25-row row groups, units of at most 50 rows: the window fans out into several messages.
    expect(first.batches.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);

    await eventually(
      async () => (await watermarks('loan:')).every((watermark) => watermark === end),
      'every unit to be consumed and the watermarks to advance',
    );
    const { status, body } = await decide(worker, bindings);
    expect(status).toBe(200);
    expect(body.features).toMatchObject({ served_by: 'upstash', fallback_reason: null });
    expect(body.probability_of_default).toBe(inject('materializedProbability'));

    // The next trigger finds nothing new: no unit is enqueued, and its empty window completes at once.
    const next = end + 15 * 60_000;
    const second = countingQueue(bindings.MATERIALIZE_QUEUE!);
    await runScheduled(worker, { ...bindings, MATERIALIZE_QUEUE: second.queue }, next);
    expect(second.batches).toEqual([]);
    expect(await watermarks('loan:')).toEqual([next, next]);
  });

  it('acks a message that is not a unit, and retries a unit that fails', async () => {
    const failing = serializeUnit({
      windowId: 'w-missing',
      index: 0,
      view: 'credit_history',
      file: `${inject('materializeSource')}/missing.parquet`,
      fileSize: 1000,
      rowGroupStart: 0,
      rowGroupEnd: 1,
      rows: 25,
      start: 0,
      end: 1,
    });
    const batch = createMessageBatch(QUEUE, [
      { id: 'not-a-unit', timestamp: new Date(), attempts: 1, body: '{"v":2}' },
      { id: 'missing-file', timestamp: new Date(), attempts: 2, body: failing },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, bindings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['not-a-unit']);
    // (getQueueResult reports which messages were retried, not the delay asked for.)
    expect(result.retryMessages.map((message: { msgId: string }) => message.msgId)).toEqual([
      'missing-file',
    ]);
  });

  it('writes entity keys with the serving HMAC encoder: served from Upstash, no plain dob_ssn in Redis', async () => {
    // A Worker of its own (prefix, secret) whose units are handed to its own `queue` handler:
    // the queue binding is replaced by a collector so the shared consumer does not see them.
    const bodies: unknown[] = [];
    const collector: UnitQueueProducer = {
      async sendBatch(messages) {
        for (const message of messages) bodies.push(message.body);
      },
    };
    const settings: WorkerEnv = {
      ...bindings,
      REDIS_KEY_PREFIX: 'hmac:',
      ENTITY_KEY_HMAC_SECRET: 'worker-materialize-test-secret-0123456789',
      MATERIALIZE_QUEUE: collector,
    };
    const hmacWorker = createWorker();
    await runScheduled(hmacWorker, settings, inject('scheduledTime'));
    expect(bodies.length).toBeGreaterThanOrEqual(4);

    const batch = createMessageBatch(
      QUEUE,
      bodies.map((body, i) => ({ id: `unit-${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await hmacWorker.queue(batch, settings, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(bodies.length);
    expect(await watermarks('hmac:')).toEqual([inject('scheduledTime'), inject('scheduledTime')]);

    const { status, body } = await decide(hmacWorker, settings);
    expect(status).toBe(200);
    expect(body.features.served_by).toBe('upstash');
    expect(body.probability_of_default).toBe(inject('materializedProbability'));
    const keys = await redis.keys('hmac:*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join('\n')).not.toContain(inject('materializedApplication').dob_ssn);
  });

  it.each([
    [
      'no MATERIALIZE_SOURCE',
      { MATERIALIZE_SOURCE: undefined },
      /materialization needs MATERIALIZE_SOURCE/,
    ],
    [
      'a local MATERIALIZE_SOURCE',
      { MATERIALIZE_SOURCE: '/data/features' },
      /must be an s3:\/\/bucket\/prefix/,
    ],
    [
      'no Upstash',
      { UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined },
      /keeps its watermarks in Upstash/,
    ],
    ['no queue binding', { MATERIALIZE_QUEUE: undefined }, /MATERIALIZE_QUEUE is not bound/],
    [
      'S3 without credentials',
      { AWS_SECRET_ACCESS_KEY: undefined },
      /MATERIALIZE_SOURCE is set but AWS_SECRET_ACCESS_KEY is not/,
    ],
  ])('the cron fails with a clear error for %s', async (_, overrides, message) => {
    const settings = { ...bindings, ...overrides } as WorkerEnv;
    await expect(runScheduled(createWorker(), settings, inject('scheduledTime'))).rejects.toThrow(
      message,
    );
  });
});
