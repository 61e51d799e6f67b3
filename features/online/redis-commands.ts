/**
 * What Redis TCP and Upstash have in common: the HMGET commands of a read, the decoding of their
 * replies, and the newer-value-protected write script. The two stores only differ in transport.
 */
import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';
import { encodeFeatureRowsJson } from './feature-rows-json.js';
import { entityKeyAt, featureRowsByView, isFeatureRows } from './feature-rows.js';
import { type KeyLayout, viewFieldNames } from './key-layout.js';
import { decodeFeatureValue, decodeTimestamp } from './store-support.js';
import {
  StoreUnavailableError,
  viewStatus,
  type EntityKeys,
  type FeatureWrites,
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
 *
 * One call handles a group of records of ONE view (KEYS[k] = hash of record k).
 * ARGV[1] = key TTL in ms (0: none); ARGV[2] = the records as one JSON array of rows
 * `[eventTs, createdTs, value1, …, valueN]` (decimal strings; null = absent field);
 * ARGV[3..] = the field names `<view>:_event_ts`, `<view>:_created_ts`, `<view>:<feature>`….
 * Answers `{written, skippedNotNewer}`.
 *
 * Why this shape (measured with scripts/bench-materialize.ts, redis-benchmark and INFO
 * commandstats): with one argument per field and the field names repeated per record, node-redis
 * spent ~10 µs of client CPU per record encoding ~25 RESP arguments, and the script cost
 * redis-server ~12 µs per record (raw pipelined HSETs of the same 11 fields: ~7 µs). Now the rows
 * are one JSON argument (written digit by digit on the client, feature-rows-json.ts; cjson.decode
 * in C on the server), the field names cross the wire once per call, and the HSET arguments reuse
 * one table whose name slots are filled once per call: ~8.5 µs per record on the server. Values
 * stay JSON strings: as JSON numbers, redis-server's number-to-string conversion in redis.call
 * added ~4 µs per record.
 *
 * A view's fields exist only next to its `_event_ts` (every write sets them together), so nulls
 * need an HDEL only when a row of the view is already stored.
 * A Lua script rather than WATCH/MULTI because it needs no extra round trip and pipelines freely.
 * All keys of a call may hash to different slots: a single-shard Redis (ElastiCache without
 * cluster mode, Upstash) is assumed, as the client is not cluster-aware either.
 */
export const NEWER_WINS_SCRIPT = `
local ttl = tonumber(ARGV[1])
local rows = cjson.decode(ARGV[2])
local null = cjson.null
local eventField, createdField = ARGV[3], ARGV[4]
local n = #ARGV - 2
local hset = {}
for i = 1, n do hset[2 * i - 1] = ARGV[i + 2] end
local written = 0
for k = 1, #KEYS do
  local key, row = KEYS[k], rows[k]
  local stored = redis.call('HMGET', key, eventField, createdField)
  local storedEvent = tonumber(stored[1])
  local newer = true
  if storedEvent then
    local event = tonumber(row[1])
    if storedEvent > event then
      newer = false
    elseif storedEvent == event and (tonumber(stored[2]) or -math.huge) >= tonumber(row[2]) then
      newer = false
    end
  end
  if newer then
    local hasNull = false
    for i = 1, n do
      local value = row[i]
      if value == null then hasNull = true break end
      hset[2 * i] = value
    end
    if hasNull then
      local set, del = {}, {}
      for i = 1, n do
        local value = row[i]
        if value == null then
          del[#del + 1] = ARGV[i + 2]
        else
          set[#set + 1] = ARGV[i + 2]
          set[#set + 1] = value
        end
      end
      redis.call('HSET', key, unpack(set))
      if stored[1] and #del > 0 then redis.call('HDEL', key, unpack(del)) end
    else
      redis.call('HSET', key, unpack(hset))
    end
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    written = written + 1
  end
end
return {written, #KEYS - written}
`;

/**
 * Records per script call by default. A call blocks Redis while it runs (~7–10 µs a record, most
 * of it the HSET), so 20 records keep it near 0.2 ms, under the 1 ms read p99. Larger calls
 * (50, 200) did not raise throughput in scripts/bench-materialize.ts: the per-call cost is small
 * beside the per-record HMGET + HSET.
 */
export const DEFAULT_RECORDS_PER_SCRIPT = 20;

export interface NewerWinsInvocation {
  readonly keys: string[];
  /** ARGV: key TTL, the rows as JSON (UTF-8 bytes, see feature-rows-json.ts), the field names. */
  readonly args: (string | Buffer)[];
  /** Upper bound of the arguments' size in bytes inside a JSON request body. */
  readonly bytes: number;
}

/** The script's field-name arguments of a view, built once per view definition. */
const scriptFieldCache = new WeakMap<FeatureViewDefinition, readonly string[]>();

function scriptFieldNames(view: FeatureViewDefinition): readonly string[] {
  let fields = scriptFieldCache.get(view);
  if (!fields) {
    const names = viewFieldNames(view);
    fields = [names.eventTs, names.createdTs, ...names.features];
    scriptFieldCache.set(view, fields);
  }
  return fields;
}

/**
 * The script calls for a write, at most `perCall` rows of one view each (records of different
 * views go to different calls; the order between calls does not matter, as newer wins).
 */
export function newerWinsInvocations(
  layout: KeyLayout,
  writes: FeatureWrites,
  keyTtlMs: number,
  perCall = DEFAULT_RECORDS_PER_SCRIPT,
): NewerWinsInvocation[] {
  const ttl = String(Math.max(0, Math.floor(keyTtlMs)));
  const invocations: NewerWinsInvocation[] = [];
  for (const group of isFeatureRows(writes) ? [writes] : featureRowsByView(writes)) {
    const entity = group.view.entity.name;
    const fields = scriptFieldNames(group.view);
    let fieldBytes = 0;
    for (const field of fields) fieldBytes += field.length * 3 + 3;
    const count = group.rows.length;
    for (let start = 0; start < count; start += perCall) {
      const end = Math.min(count, start + perCall);
      const keys: string[] = [];
      let bytes = ttl.length + 3 + fieldBytes;
      for (let i = start; i < end; i++) {
        const key = layout.redisKey(entity, entityKeyAt(group, group.rows[i]));
        keys.push(key);
        bytes += key.length * 3 + 3;
      }
      const rows = encodeFeatureRowsJson(group, start, end);
      // Quotes and backslashes are escaped once more inside a JSON request body (Upstash).
      bytes += rows.length * 2 + 3;
      invocations.push({ keys, args: [ttl, rows, ...fields], bytes });
    }
  }
  return invocations;
}

/**
 * Sums the script answers (`{written, skippedNotNewer}` per call); anything else, or counts that
 * do not add up to the records of the call, is a store fault.
 */
export function tallyNewerWins(
  store: string,
  invocations: readonly NewerWinsInvocation[],
  replies: readonly unknown[],
): [number, number] {
  if (!Array.isArray(replies) || replies.length !== invocations.length) {
    throw new StoreUnavailableError(store, 'write pipeline answered the wrong number of replies');
  }
  let written = 0;
  let skipped = 0;
  for (let i = 0; i < replies.length; i++) {
    const reply = replies[i];
    const w = Array.isArray(reply) ? Number(reply[0]) : NaN;
    const s = Array.isArray(reply) ? Number(reply[1]) : NaN;
    if (!Number.isInteger(w) || !Number.isInteger(s) || w < 0 || s < 0) {
      throw new StoreUnavailableError(store, 'write script answered garbage');
    }
    if (w + s !== invocations[i].keys.length) {
      throw new StoreUnavailableError(
        store,
        'write script answered for the wrong number of records',
      );
    }
    written += w;
    skipped += s;
  }
  return [written, skipped];
}
