/**
 * Where the watermark lives (DynamoDB > Redis TCP > Upstash > file on request) and the Redis
 * watermark store over both transports: node-redis and the Upstash REST bridge.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis as UpstashRedis } from '@upstash/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  NoStoreConfiguredError,
  createMaterializeDeps,
  materializeConfigFromEnv,
} from '../../features/materialize/deps.js';
import {
  RedisWatermarkStore,
  nodeRedisScriptRunner,
  upstashScriptRunner,
} from '../../features/materialize/redis-watermark-store.js';
import type { WatermarkStore } from '../../features/materialize/watermark-store.js';
import { createDynamoDbTable } from '../../features/online/dynamodb.js';
import { startDynalite, type DynaliteHandle } from '../harness/dynalite.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../harness/upstash-bridge.js';
import { zipcodeRecord } from '../fixtures/applicant.js';
import { tempDir } from './fixtures.js';

const TOKEN = 'state-token';
let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let dynalite: DynaliteHandle;
let dynamodb: DynamoDBClient;
let tcp: ReturnType<typeof createClient>;

beforeAll(async () => {
  [redis, dynalite] = await Promise.all([startRedisServer(), startDynalite()]);
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN });
  dynamodb = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  tcp = createClient({ url: redis.url, RESP: 2 });
  await tcp.connect();
});

afterAll(async () => {
  await tcp?.close();
  dynamodb?.destroy();
  await bridge?.stop();
  await Promise.all([redis?.stop(), dynalite?.stop()]);
});

interface StoreChoice {
  dynamodb?: boolean;
  redis?: boolean;
  upstash?: boolean;
  stateFile?: boolean;
}

describe('choosing the watermark store', () => {
  it.each<[string, StoreChoice, string]>([
    ['DynamoDB when a table is configured', { dynamodb: true, redis: true }, 'dynamodb'],
    ['Redis when only Redis is configured', { redis: true }, 'redis'],
    ['Redis through Upstash', { upstash: true }, 'redis'],
    ['a file only when asked for', { redis: true, stateFile: true }, 'file'],
  ])('%s', async (_, choice, expected) => {
    const table = `s${randomUUID().slice(0, 8)}`;
    if (choice.dynamodb) await createDynamoDbTable(dynamodb, table);
    const env: Record<string, string> = {};
    if (choice.dynamodb) env.DYNAMODB_TABLE = table;
    if (choice.redis) env.REDIS_URL = redis.url;
    if (choice.upstash)
      Object.assign(env, { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: TOKEN });
    if (choice.stateFile) env.MATERIALIZE_STATE_FILE = path.join(await tempDir(), 'state.json');
    const deps = await createMaterializeDeps('/data', materializeConfigFromEnv(env), { dynamodb });
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    try {
      expect(deps.watermarks.name).toBe(expected);
      // The Upstash store writes over node:http (upstash-node-http.ts), not fetch.
      const upstash = deps.stores.find((s) => s.name === 'upstash');
      if (upstash) {
        const write = await upstash.write([
          zipcodeRecord(10_000 + Math.floor(Math.random() * 80_000)),
        ]);
        expect(write.written).toBe(1);
        expect(fetchSpy).not.toHaveBeenCalled();
      }
      expect(deps.stores.map((s) => s.name).sort()).toEqual(
        [choice.dynamodb && 'dynamodb', choice.redis && 'redis', choice.upstash && 'upstash']
          .filter(Boolean)
          .sort(),
      );
    } finally {
      fetchSpy.mockRestore();
      await deps.close();
    }
  });

  it('refuses to run with no store, and half an Upstash configuration', async () => {
    await expect(
      createMaterializeDeps('/data', materializeConfigFromEnv({})),
    ).rejects.toBeInstanceOf(NoStoreConfiguredError);
    expect(() => materializeConfigFromEnv({ UPSTASH_REDIS_REST_URL: 'http://x' })).toThrow(
      /set together/,
    );
  });
});

describe.each([
  ['node-redis', () => nodeRedisScriptRunner(tcp)],
  ['Upstash REST', () => upstashScriptRunner(new UpstashRedis({ url: bridge.url, token: TOKEN }))],
])('RedisWatermarkStore over %s', (_, runner) => {
  let watermarks: WatermarkStore;
  beforeAll(() => {
    watermarks = new RedisWatermarkStore(runner(), `${randomUUID().slice(0, 8)}:`);
  });

  it('moves watermarks forward only', async () => {
    expect(await watermarks.getWatermark('credit_history')).toBeNull();
    expect(await watermarks.advanceWatermark('credit_history', 2000)).toBe(true);
    expect(await watermarks.advanceWatermark('credit_history', 1000)).toBe(false);
    expect(await watermarks.advanceWatermark('credit_history', 2000)).toBe(false);
    expect(await watermarks.getWatermark('credit_history')).toBe(2000);
  });

  it('records a window once and counts each unit once', async () => {
    const window = {
      windowId: 'abc',
      unitCount: 2,
      windows: [{ view: 'zipcode_features' as const, start: 1, end: 2, previousWatermark: null }],
      plannedAt: Date.now(),
    };
    await watermarks.recordWindow(window);
    await watermarks.recordWindow({ ...window, unitCount: 7 });
    expect(await watermarks.getWindow('abc')).toEqual(window);
    expect(await watermarks.getWindow('missing')).toBeNull();
    expect(await watermarks.markUnitComplete('abc', 1)).toBe(1);
    expect(await watermarks.markUnitComplete('abc', 1)).toBe(1);
    expect(await watermarks.markUnitComplete('abc', 0)).toBe(2);
    expect(await watermarks.completedUnitCount('abc')).toBe(2);
  });
});
