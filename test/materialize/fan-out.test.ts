/**
 * The queue fan-out, as the scheduled Lambda / Worker and the SQS / Cloudflare Queues consumers
 * run it: plan + enqueue, units consumed out of order, redelivered and retried, completion
 * tracked in DynamoDB (dynalite), writes to DynamoDB and Upstash (bridge over redis-server).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditHistory, zipcodeFeatures } from '../../features/definitions.js';
import { completeMaterializationWindow } from '../../features/materialize/complete.js';
import { DynamoDbWatermarkStore } from '../../features/materialize/dynamodb-watermark-store.js';
import {
  consumeMaterializationMessage,
  dispatchMaterialization,
} from '../../features/materialize/fan-out.js';
import { materializeIncremental } from '../../features/materialize/materialize-incremental.js';
import { parquetSourceReader } from '../../features/materialize/parquet-source.js';
import type { MaterializeDeps } from '../../features/materialize/types.js';
import { InvalidUnitMessageError, parseUnit } from '../../features/materialize/unit-message.js';
import { DynamoDbStore, createDynamoDbTable } from '../../features/online/dynamodb.js';
import type { OnlineStore } from '../../features/online/types.js';
import { UpstashStore } from '../../features/online/upstash.js';
import { startDynalite, type DynaliteHandle } from '../harness/dynalite.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../harness/upstash-bridge.js';
import { DAY, creditRows, tempDir, writeViewParquet, zipcodeRows } from './fixtures.js';

const END = Date.parse('2026-06-01T00:00:00Z');
const TOKEN = 'test-token';

let dynalite: DynaliteHandle;
let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let client: DynamoDBClient;

beforeAll(async () => {
  [dynalite, redis] = await Promise.all([startDynalite(), startRedisServer()]);
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN });
  client = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  client?.destroy();
  await bridge?.stop();
  await Promise.all([dynalite?.stop(), redis?.stop()]);
});

async function setup(source: string) {
  const table = `t${randomUUID().slice(0, 8)}`;
  await createDynamoDbTable(client, table);
  const dynamodb = new DynamoDbStore({ tableName: table, client });
  const upstash = new UpstashStore({ url: bridge.url, token: TOKEN, keyPrefix: `${table}:` });
  const watermarks = new DynamoDbWatermarkStore(client, table);
  const deps: MaterializeDeps = {
    source,
    reader: parquetSourceReader(),
    stores: [dynamodb, upstash],
    watermarks,
    maxRowsPerUnit: 10,
  };
  return { deps, dynamodb, upstash, watermarks };
}

async function readCredit(store: OnlineStore, key: string) {
  const response = await store.read([{ zipcode: 0, dob_ssn: key }], [creditHistory], { now: END });
  return response.results[0].credit_history;
}

describe('fan-out over a queue with completion tracked in DynamoDB', () => {
  it('advances the watermark only when the last unit completes, however units are ordered, redelivered or retried', async () => {
    const dir = await tempDir();
    await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(40, END - DAY),
      {
        rowGroupSize: 10,
      },
    );
    await writeViewParquet(
      path.join(dir, 'zipcode_table.parquet'),
      zipcodeFeatures,
      zipcodeRows(5, END - DAY),
    );
    const { deps, dynamodb, upstash, watermarks } = await setup(dir);

    const queue: string[] = [];
    const { plan, advancedNow } = await dispatchMaterialization(
      deps,
      { end: END },
      async (bodies) => {
        expect(bodies.length).toBeLessThanOrEqual(10);
        queue.push(...bodies);
      },
    );
    expect(advancedNow).toEqual([]);
    expect(queue).toHaveLength(5); // 4 credit row groups of 10 rows (10 per unit) + 1 zipcode file
    expect(plan.units.map((u) => parseUnit(JSON.parse(JSON.stringify(queue[u.index]))))).toEqual(
      plan.units,
    );

    // The consumer fails once on a unit (a store down): the message is redelivered later.
    const flaky: MaterializeDeps = {
      ...deps,
      stores: [
        dynamodb,
        new Proxy(upstash, {
          get: (target, p, r) =>
            p === 'write'
              ? () => Promise.reject(new Error('upstash down'))
              : Reflect.get(target, p, r),
        }),
      ],
    };
    await expect(consumeMaterializationMessage(flaky, queue[2])).rejects.toThrow('upstash down');

    const order = [4, 0, 0, 3, 1]; // out of order, unit 0 delivered twice, unit 2 not yet
    for (const index of order) {
      const result = await consumeMaterializationMessage(deps, queue[index]);
      expect(result.completion.complete).toBe(false);
      expect(result.completion.advanced).toEqual([]);
    }
    expect(await watermarks.getWatermark('credit_history')).toBeNull();
    expect((await completeMaterializationWindow(deps, plan.windowId)).unitsCompleted).toBe(4);

    const last = await consumeMaterializationMessage(deps, queue[2]);
    expect(last.completion).toMatchObject({ complete: true, unitsTotal: 5, unitsCompleted: 5 });
    expect([...last.completion.advanced].sort()).toEqual(['credit_history', 'zipcode_features']);
    expect(await watermarks.getWatermark('credit_history')).toBe(END);

    // A redelivery after completion changes nothing.
    const late = await consumeMaterializationMessage(deps, queue[1]);
    expect(late.completion.advanced).toEqual([]);
    expect(late.perStore.dynamodb).toEqual({ written: 0, skippedNotNewer: 10 });

    for (const store of [dynamodb, upstash]) {
      const row = await readCredit(store, '19800101_0025');
      expect(row.status).toBe('present');
      expect(row.values.credit_card_due).toBe(250);
    }
  });

  it('a window with nothing new completes at dispatch', async () => {
    const dir = await tempDir();
    await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(3, END - 400 * DAY * 10),
    );
    const { deps, watermarks } = await setup(dir);
    const sent: string[] = [];
    const { plan, advancedNow } = await dispatchMaterialization(
      deps,
      { end: END, views: ['credit_history'] },
      async (b) => {
        sent.push(...b);
      },
    );
    expect(plan.stats.credit_history?.rowGroupsSkipped).toBe(1);
    expect(sent).toEqual([]);
    expect(advancedNow).toEqual(['credit_history']);
    expect(await watermarks.getWatermark('credit_history')).toBe(END);
  });

  it('DynamoDB watermarks never move backwards and count each unit once', async () => {
    const { watermarks } = await setup(await tempDir());
    expect(await watermarks.advanceWatermark('zipcode_features', 2000)).toBe(true);
    const racing = await Promise.all(
      [1000, 3000, 2500, 1500].map((t) => watermarks.advanceWatermark('zipcode_features', t)),
    );
    expect(racing[1]).toBe(true);
    expect(await watermarks.getWatermark('zipcode_features')).toBe(3000);
    await watermarks.recordWindow({
      windowId: 'w1',
      unitCount: 3,
      windows: [],
      plannedAt: Date.now(),
    });
    await watermarks.recordWindow({
      windowId: 'w1',
      unitCount: 99,
      windows: [],
      plannedAt: Date.now(),
    });
    expect((await watermarks.getWindow('w1'))?.unitCount).toBe(3);
    await Promise.all([0, 1, 1, 0, 1].map((i) => watermarks.markUnitComplete('w1', i)));
    expect(await watermarks.completedUnitCount('w1')).toBe(2);
    await expect(watermarks.markUnitComplete('never-planned', 0)).rejects.toThrow(/never planned/);
  });

  it('rejects queue messages that are not units', () => {
    expect(() => parseUnit('not json')).toThrow(InvalidUnitMessageError);
    expect(() => parseUnit({ v: 2 })).toThrow(InvalidUnitMessageError);
    expect(() =>
      parseUnit({
        v: 1,
        windowId: 'w',
        index: 0,
        view: 'nope',
        file: 'f',
        fileSize: 1,
        rowGroupStart: 0,
        rowGroupEnd: 1,
        rows: 1,
        start: 0,
        end: 1,
      }),
    ).toThrow(/view/);
  });

  it('--parallel units carrying the same entity: the newest row wins in DynamoDB and Upstash', async () => {
    const base = await tempDir();
    const dir = path.join(base, 'credit_history.parquet');
    // Ten files, each holding every one of 30 entities; file k's rows are k days old, so file 0 must win.
    for (let k = 0; k < 10; k++) {
      await writeViewParquet(
        path.join(dir, `part-${k}.parquet`),
        creditHistory,
        creditRows(30, END - (k + 1) * DAY, k * 1000),
      );
    }
    const { deps, dynamodb, upstash } = await setup(base);
    const summary = await materializeIncremental(
      { ...deps, maxRowsPerUnit: 30 },
      { end: END, views: ['credit_history'], parallel: 10 },
    );
    expect(summary.unitsTotal).toBe(10);
    for (const store of [dynamodb, upstash]) {
      for (const key of ['19800101_0000', '19800101_0017', '19800101_0029']) {
        const row = await readCredit(store, key);
        expect(row.eventTimestamp).toBe(END - DAY);
        expect(row.values.credit_card_due).toBe(Number(key.slice(-4)) * 10);
      }
    }
  });
});
