/**
 * What Redis TCP and Upstash have in common: the HMGET commands of a read, the decoding of their
 * replies, and the newer-value-protected write script. The two stores only differ in transport.
 */
import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';
import { type KeyLayout, viewFieldNames } from './key-layout.js';
import { decodeFeatureValue, decodeTimestamp, encodeFeatureValue } from './store-support.js';
import {
  StoreUnavailableError,
  viewStatus,
  type EntityKeys,
  type FeatureRecord,
  type ViewResult,
  type ViewResults,
} from './types.js';

/** One HMGET: the hash key and the exact fields a read needs (features, then `_event_ts`). */
export interface HmgetCommand {
  readonly key: string;
  readonly fields: readonly string[];
}

/** Commands in application-major order: index = application * views.length + view. */
export function planRedisRead(
  layout: KeyLayout,
  applications: readonly EntityKeys[],
  views: readonly FeatureViewDefinition[],
): HmgetCommand[] {
  const commands: HmgetCommand[] = [];
  for (const application of applications) {
    for (const view of views) {
      const entity = view.entity.name;
      commands.push({
        key: layout.redisKey(entity, application[entity]),
        fields: viewFieldNames(view).readFields,
      });
    }
  }
  return commands;
}

const NOT_FOUND: ViewResult = Object.freeze({
  status: 'not_found',
  eventTimestamp: null,
  values: Object.freeze({}),
});

/** Decodes HMGET replies (arrays of string | null) into per-application view results. */
export function decodeRedisRead(
  store: string,
  replies: readonly unknown[],
  applicationCount: number,
  views: readonly FeatureViewDefinition[],
  now: number,
): ViewResults[] {
  if (!Array.isArray(replies) || replies.length !== applicationCount * views.length) {
    throw new StoreUnavailableError(store, 'pipeline answered the wrong number of replies');
  }
  const results: ViewResults[] = [];
  let index = 0;
  for (let a = 0; a < applicationCount; a++) {
    const byView = {} as Record<FeatureViewName, ViewResult>;
    for (const view of views) {
      byView[view.name] = decodeHmget(store, view, replies[index++], now);
    }
    results.push(byView);
  }
  return results;
}

function decodeHmget(
  store: string,
  view: FeatureViewDefinition,
  reply: unknown,
  now: number,
): ViewResult {
  const features = view.features;
  if (!Array.isArray(reply) || reply.length !== features.length + 1) {
    throw new StoreUnavailableError(store, `HMGET of ${view.name} answered garbage`);
  }
  for (const raw of reply) {
    if (raw !== null && typeof raw !== 'string') {
      throw new StoreUnavailableError(store, `HMGET of ${view.name} answered a non-string`);
    }
  }
  const names = viewFieldNames(view);
  const eventTimestamp = decodeTimestamp(store, names.eventTs, reply[features.length]);
  if (eventTimestamp === null) return NOT_FOUND;
  const values: Record<string, string | number | null> = {};
  for (let i = 0; i < features.length; i++) {
    values[features[i].name] = decodeFeatureValue(store, view, features[i], reply[i]);
  }
  return { status: viewStatus(view, eventTimestamp, now), eventTimestamp, values };
}

/**
 * Newer-value protection, atomically per hash: a record is written only when the stored
 * `_event_ts` (then `_created_ts`) is strictly older; otherwise the hash is left as it is.
 * One call handles a group of records (KEYS[k] = hash of record k), which divides the per-command
 * cost of Redis and of the client by the group size; groups stay small so a script never blocks
 * Redis long enough to hurt concurrent reads.
 * ARGV[1] = key TTL in ms (0: none); then per record: eventField, createdField, eventTs,
 * createdTs, nSet, nDel, nSet × (field, value), nDel × field (null values are deleted).
 * Answers one 1 (written) or 0 (not newer) per key.
 * A Lua script rather than WATCH/MULTI because it needs no extra round trip and pipelines freely.
 * All keys of a call may hash to different slots: a single-shard Redis (ElastiCache without
 * cluster mode, Upstash) is assumed, as the client is not cluster-aware either.
 */
export const NEWER_WINS_SCRIPT = `
local ttl = tonumber(ARGV[1])
local answers = {}
local a = 2
for k = 1, #KEYS do
  local key = KEYS[k]
  local eventField, createdField = ARGV[a], ARGV[a + 1]
  local event, created = ARGV[a + 2], ARGV[a + 3]
  local nSet, nDel = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local first = a + 6
  a = first + 2 * nSet + nDel
  local stored = redis.call('HMGET', key, eventField, createdField)
  local storedEvent = tonumber(stored[1])
  local newer = true
  if storedEvent then
    local e = tonumber(event)
    if storedEvent > e then
      newer = false
    elseif storedEvent == e and (tonumber(stored[2]) or -math.huge) >= tonumber(created) then
      newer = false
    end
  end
  if newer then
    local fields = {eventField, event, createdField, created}
    for i = first, first + 2 * nSet - 1 do fields[#fields + 1] = ARGV[i] end
    redis.call('HSET', key, unpack(fields))
    if nDel > 0 then
      redis.call('HDEL', key, unpack(ARGV, first + 2 * nSet, first + 2 * nSet + nDel - 1))
    end
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    answers[k] = 1
  else
    answers[k] = 0
  end
end
return answers
`;

/** Records per script call by default: ~20 × a few µs keeps each call well under 0.2 ms. */
export const DEFAULT_RECORDS_PER_SCRIPT = 20;

export interface NewerWinsInvocation {
  readonly keys: string[];
  readonly args: string[];
  /** Rough size of the arguments in bytes, for request-size limits. */
  readonly bytes: number;
}

/** The script calls for records, `perCall` records each. */
export function newerWinsInvocations(
  layout: KeyLayout,
  records: readonly FeatureRecord[],
  keyTtlMs: number,
  perCall = DEFAULT_RECORDS_PER_SCRIPT,
): NewerWinsInvocation[] {
  const ttl = String(Math.max(0, Math.floor(keyTtlMs)));
  const invocations: NewerWinsInvocation[] = [];
  for (let start = 0; start < records.length; start += perCall) {
    const keys: string[] = [];
    const args: string[] = [ttl];
    let bytes = 0;
    for (const record of records.slice(start, start + perCall)) {
      const view = record.view;
      const names = viewFieldNames(view);
      const key = layout.redisKey(view.entity.name, record.entityKey);
      keys.push(key);
      const sets: string[] = [];
      const deletes: string[] = [];
      for (let i = 0; i < view.features.length; i++) {
        const encoded = encodeFeatureValue(record.values[view.features[i].name]);
        if (encoded === null) deletes.push(names.features[i]);
        else sets.push(names.features[i], encoded);
      }
      args.push(
        names.eventTs,
        names.createdTs,
        String(record.eventTimestamp),
        String(record.createdTimestamp),
        String(sets.length / 2),
        String(deletes.length),
      );
      for (const arg of sets) args.push(arg);
      for (const arg of deletes) args.push(arg);
      bytes += key.length + 64;
    }
    for (const arg of args) bytes += arg.length * 3 + 3; // UTF-8 in JSON: at most 3 bytes a unit
    invocations.push({ keys, args, bytes });
  }
  return invocations;
}

/** Counts script answers (1 written, 0 not newer); anything else is a store fault. */
export function tallyNewerWins(store: string, replies: readonly unknown[]): [number, number] {
  let written = 0;
  let skipped = 0;
  for (const reply of replies) {
    if (!Array.isArray(reply))
      throw new StoreUnavailableError(store, 'write script answered garbage');
    for (const answer of reply) {
      if (answer === 1 || answer === '1') written++;
      else if (answer === 0 || answer === '0') skipped++;
      else throw new StoreUnavailableError(store, 'write script answered garbage');
    }
  }
  return [written, skipped];
}
