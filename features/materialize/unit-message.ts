// zod/mini, not classic zod: this module is bundled into the Worker, where classic zod's
// `z` namespace is not tree-shaken (~100 KiB gzip against a 150 KiB budget).
import * as z from 'zod/mini';
import { featureViews, type FeatureViewName } from '../definitions.js';
import type { MaterializationUnit } from './types.js';

const viewNames = featureViews.map((v) => v.name) as [FeatureViewName, ...FeatureViewName[]];
const epochMs = z.number().check(z.int());
const count = z.number().check(z.int(), z.nonnegative());

const unitSchema = z
  .object({
    v: z.literal(1),
    windowId: z.string().check(z.minLength(1), z.maxLength(128)),
    index: count,
    view: z.enum(viewNames),
    file: z.string().check(z.minLength(1)),
    fileSize: count,
    rowGroupStart: count,
    rowGroupEnd: z.number().check(z.int(), z.positive()),
    rows: count,
    start: epochMs,
    end: epochMs,
  })
  .check(
    z.refine((u) => u.rowGroupEnd > u.rowGroupStart, {
      message: 'rowGroupEnd must exceed rowGroupStart',
    }),
    z.refine((u) => u.end > u.start, { message: 'end must be after start' }),
  );

/** A queue message that is not a unit this version understands; never retry it. */
export class InvalidUnitMessageError extends Error {
  override readonly name = 'InvalidUnitMessageError';
}

/**
 * A unit as a queue message body: a few hundred bytes of JSON, far below the SQS (256 KiB) and
 * Cloudflare Queues (128 KB) limits. The `v` field lets a consumer refuse messages from another
 * version of the planner instead of misreading them.
 *
 * @example
 * await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: serializeUnit(unit) }));
 */
export function serializeUnit(unit: MaterializationUnit): string {
  const { windowId, index, view, file, fileSize, rowGroupStart, rowGroupEnd, rows, start, end } =
    unit;
  return JSON.stringify({
    v: 1,
    windowId,
    index,
    view,
    file,
    fileSize,
    rowGroupStart,
    rowGroupEnd,
    rows,
    start,
    end,
  });
}

/** Parses a queue message body (string, or an already-parsed object from Cloudflare Queues). */
export function parseUnit(body: unknown): MaterializationUnit {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw new InvalidUnitMessageError('materialization unit message is not JSON');
    }
  }
  const parsed = unitSchema.safeParse(value);
  if (!parsed.success) {
    // zod/mini ships no messages ("Invalid input"): say what was expected where it knows.
    const issues = parsed.error.issues.map(
      (i) =>
        `${i.path.join('.') || 'message'}: ${i.code === 'invalid_type' ? `expected ${i.expected}` : i.message}`,
    );
    throw new InvalidUnitMessageError(
      `invalid materialization unit message (${issues.join('; ')})`,
    );
  }
  const { v: _version, ...unit } = parsed.data;
  return unit;
}
