import type { FeatureViewName } from '../definitions.js';
import { completeMaterializationWindow } from './complete.js';
import { planMaterialization, type PlanOptions } from './plan.js';
import { runMaterializationUnit } from './run-unit.js';
import type { MaterializationPlan, MaterializeDeps, UnitResult } from './types.js';
import { parseUnit, serializeUnit } from './unit-message.js';

/** Sends message bodies to the queue (SQS SendMessageBatch, Cloudflare `queue.sendBatch`). */
export type EnqueueUnits = (bodies: string[]) => Promise<void>;

export interface DispatchResult {
  readonly plan: MaterializationPlan;
  /** A window without units completes at once; its watermarks moved here. */
  readonly advancedNow: readonly FeatureViewName[];
}

/**
 * The scheduled side of the fan-out: plans a window and enqueues its units in chunks of
 * `chunkSize` message bodies (10 = the SQS SendMessageBatch limit; Cloudflare Queues takes 100).
 * A window with nothing to do is completed here, since no consumer will ever see it.
 * If enqueueing fails part-way the window simply never completes; the next schedule re-plans the
 * same window (same id while the files are unchanged) and enqueues every unit again.
 *
 * @example
 * // scheduled Lambda (SST cron)
 * await dispatchMaterialization(deps, { end: Date.now() }, async (bodies) => {
 *   await sqs.send(new SendMessageBatchCommand({ QueueUrl,
 *     Entries: bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }));
 * });
 */
export async function dispatchMaterialization(
  deps: MaterializeDeps,
  options: PlanOptions,
  enqueue: EnqueueUnits,
  chunkSize = 10,
): Promise<DispatchResult> {
  const plan = await planMaterialization(deps, options);
  const bodies = plan.units.map(serializeUnit);
  for (let offset = 0; offset < bodies.length; offset += chunkSize) {
    await enqueue(bodies.slice(offset, offset + chunkSize));
  }
  const advancedNow =
    plan.units.length === 0
      ? (await completeMaterializationWindow(deps, plan.windowId)).advanced
      : [];
  return { plan, advancedNow };
}

/**
 * The queue side: one message body → one unit run (parse, write, mark complete, maybe advance the
 * watermark). Throws on failure so the queue redelivers (SQS batch item failure, Cloudflare
 * `message.retry()`); an unparseable body throws InvalidUnitMessageError, which should be acked
 * and logged rather than retried.
 *
 * @example
 * // Cloudflare Queue consumer
 * for (const message of batch.messages) {
 *   try { console.log(JSON.stringify(await consumeMaterializationMessage(deps, message.body))); message.ack(); }
 *   catch (error) { error instanceof InvalidUnitMessageError ? message.ack() : message.retry(); }
 * }
 */
export function consumeMaterializationMessage(
  deps: MaterializeDeps,
  body: unknown,
): Promise<UnitResult> {
  return runMaterializationUnit(deps, parseUnit(body));
}
