import type { FeatureViewName } from '../definitions.js';
import {
  WINDOW_RECORD_TTL_SECONDS,
  WatermarkStateError,
  type PlannedWindow,
  type WatermarkStore,
} from './watermark-store.js';

/**
 * Runs one Lua script. Every operation below is a script so that the same store works over
 * node-redis (TCP) and @upstash/redis (REST) — both have EVAL — and each step is atomic.
 */
export type RedisScriptRunner = (
  script: string,
  keys: readonly string[],
  args: readonly string[],
) => Promise<unknown>;

/** node-redis v5/v6 client → runner. */
export function nodeRedisScriptRunner(client: {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}): RedisScriptRunner {
  return (script, keys, args) => client.eval(script, { keys: [...keys], arguments: [...args] });
}

/** @upstash/redis client → runner. */
export function upstashScriptRunner(client: {
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}): RedisScriptRunner {
  return (script, keys, args) => client.eval(script, [...keys], [...args]);
}

const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and tonumber(current) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;
const HGET = `return redis.call('HGET', KEYS[1], ARGV[1])`;
const SET_NX_EX = `redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) return 1`;
const GET = `return redis.call('GET', KEYS[1])`;
const SADD_EX = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('SCARD', KEYS[1])`;
const SCARD = `return redis.call('SCARD', KEYS[1])`;

/**
 * Watermarks in a Redis hash `<prefix>_materialization:watermarks` (field per view, epoch ms);
 * each planned window is a string key holding its JSON and a set of completed unit indexes, both
 * expiring after two weeks. Redis must not evict these keys (use a noeviction policy or
 * volatile-* with feature TTLs): a lost watermark is safe — the next run starts from end − TTL —
 * but a lost completion set stalls a fanned-out window until it is planned again.
 */
export class RedisWatermarkStore implements WatermarkStore {
  readonly name = 'redis' as const;

  constructor(
    private readonly run: RedisScriptRunner,
    private readonly keyPrefix = '',
  ) {}

  async getWatermark(view: FeatureViewName): Promise<number | null> {
    const value = await this.call(HGET, [this.watermarksKey()], [view]);
    return value === null || value === undefined ? null : Number(value);
  }

  async advanceWatermark(view: FeatureViewName, to: number): Promise<boolean> {
    return Number(await this.call(ADVANCE, [this.watermarksKey()], [view, String(to)])) === 1;
  }

  async recordWindow(window: PlannedWindow): Promise<void> {
    await this.call(
      SET_NX_EX,
      [this.windowKey(window.windowId)],
      [JSON.stringify(window), String(WINDOW_RECORD_TTL_SECONDS)],
    );
  }

  async getWindow(windowId: string): Promise<PlannedWindow | null> {
    const value = await this.call(GET, [this.windowKey(windowId)], []);
    if (value === null || value === undefined) return null;
    // @upstash/redis deserialises JSON replies itself; node-redis returns the string.
    return (typeof value === 'string' ? JSON.parse(value) : value) as PlannedWindow;
  }

  async markUnitComplete(windowId: string, unitIndex: number): Promise<number> {
    return Number(
      await this.call(
        SADD_EX,
        [`${this.windowKey(windowId)}:done`],
        [String(unitIndex), String(WINDOW_RECORD_TTL_SECONDS)],
      ),
    );
  }

  async completedUnitCount(windowId: string): Promise<number> {
    return Number(await this.call(SCARD, [`${this.windowKey(windowId)}:done`], []));
  }

  private watermarksKey(): string {
    return `${this.keyPrefix}_materialization:watermarks`;
  }

  private windowKey(windowId: string): string {
    return `${this.keyPrefix}_materialization:window:${windowId}`;
  }

  private async call(script: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.run(script, keys, args);
    } catch (error) {
      throw new WatermarkStateError('redis', (error as Error).message, { cause: error });
    }
  }
}
