import { z } from 'zod';
import { featureViews, type FeatureViewName } from '../definitions.js';
import type { MaterializationUnit } from './types.js';

const viewNames = featureViews.map((v) => v.name) as [FeatureViewName, ...FeatureViewName[]];
const epochMs = z.number().int();

const unitSchema = z
  .object({
    v: z.literal(1),
    windowId: z.string().min(1).max(128),
    index: z.number().int().nonnegative(),
    view: z.enum(viewNames),
    file: z.string().min(1),
    fileSize: z.number().int().nonnegative(),
    rowGroupStart: z.number().int().nonnegative(),
    rowGroupEnd: z.number().int().positive(),
    rows: z.number().int().nonnegative(),
    start: epochMs,
    end: epochMs,
  })
  .refine((u) => u.rowGroupEnd > u.rowGroupStart, {
    message: 'rowGroupEnd must exceed rowGroupStart',
  })
  .refine((u) => u.end > u.start, { message: 'end must be after start' });

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
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`);
    throw new InvalidUnitMessageError(
      `invalid materialization unit message (${issues.join('; ')})`,
    );
  }
  const { v: _version, ...unit } = parsed.data;
  return unit;
}
