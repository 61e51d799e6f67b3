/**
 * materialize-incremental against a real redis-server: windows and watermarks, row-group skipping,
 * late rows, newer-value protection, idempotence, folder sources and in-process fan-out.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { creditHistory, zipcodeFeatures } from '../../features/definitions.js';
import { materializeIncremental } from '../../features/materialize/materialize-incremental.js';
import {
  parquetSourceReader,
  type ParquetSourceReader,
} from '../../features/materialize/parquet-source.js';
import { SourceChangedError } from '../../features/materialize/errors.js';
import { planMaterialization } from '../../features/materialize/plan.js';
import { runMaterializationUnit } from '../../features/materialize/run-unit.js';
import {
  RedisWatermarkStore,
  nodeRedisScriptRunner,
} from '../../features/materialize/redis-watermark-store.js';
import type { MaterializeDeps } from '../../features/materialize/types.js';
import { RedisTcpStore } from '../../features/online/redis-tcp.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { DAY, creditRows, tempDir, writeViewParquet, zipcodeRows } from './fixtures.js';

const END = Date.parse('2026-06-01T00:00:00Z');

let redis: RedisServerHandle;
let admin: ReturnType<typeof createClient>;
const stores: RedisTcpStore[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  admin = createClient({ url: redis.url, RESP: 2 });
  await admin.connect();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await admin?.close();
  await redis?.stop();
});

/** A fresh key space per test: random prefixes for features and state. */
function setup(source: string, overrides: Partial<MaterializeDeps> = {}) {
  const prefix = `t${randomUUID().slice(0, 8)}:`;
  const store = new RedisTcpStore({ url: redis.url, keyPrefix: prefix });
  stores.push(store);
  const watermarks = new RedisWatermarkStore(nodeRedisScriptRunner(admin), prefix);
  const deps: MaterializeDeps = {
    source,
    reader: parquetSourceReader(),
    stores: [store],
    watermarks,
    ...overrides,
  };
  const hash = (entity: string, key: string | number) => admin.hGetAll(`${prefix}${entity}:${key}`);
  return { deps, store, watermarks, prefix, hash };
}

describe('windows and watermarks', () => {
  it('a first run covers (end − TTL, end], later runs start at the watermark', async () => {
    const dir = await tempDir();
    const ttl = zipcodeFeatures.ttlSeconds * 1000;
    await writeViewParquet(path.join(dir, 'zipcode_table.parquet'), zipcodeFeatures, [
      { key: 1, eventTs: END - ttl - DAY, seed: 1 }, // older than the TTL: never loaded
      { key: 2, eventTs: END - 10 * DAY, seed: 2 },
      { key: 3, eventTs: END + DAY, seed: 3 }, // after the window end: a later run
    ]);
    const { deps, hash, watermarks } = setup(dir);

    const first = await materializeIncremental(deps, { end: END, views: ['zipcode_features'] });
    expect(first.ok).toBe(true);
    expect(first.views.zipcode_features.window).toEqual({
      start: new Date(END - ttl).toISOString(),
      end: new Date(END).toISOString(),
    });
    expect(first.views.zipcode_features.previousWatermark).toBeNull();
    expect(first.watermarkMoved).toBe(true);
    expect(await watermarks.getWatermark('zipcode_features')).toBe(END);
    expect(await hash('zipcode', 1)).toEqual({});
    expect((await hash('zipcode', 2))['zipcode_features:city']).toBe('city-2');
    expect(await hash('zipcode', 3)).toEqual({});
    expect(first.stores.redis).toEqual({ written: 1, skippedNotNewer: 0 });

    const second = await materializeIncremental(deps, {
      end: END + 2 * DAY,
      views: ['zipcode_features'],
    });
    expect(second.views.zipcode_features.window.start).toBe(new Date(END).toISOString());
    expect(second.stores.redis).toEqual({ written: 1, skippedNotNewer: 0 });
    expect((await hash('zipcode', 3))['zipcode_features:_event_ts']).toBe(String(END + DAY));
    expect(await watermarks.getWatermark('zipcode_features')).toBe(END + 2 * DAY);
  });

  it('an end at or before the watermark is an empty window and never moves it back', async () => {
    const dir = await tempDir();
    await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(5, END - DAY),
    );
    const { deps, watermarks } = setup(dir);
    await materializeIncremental(deps, { end: END, views: ['credit_history'] });
    const earlier = await materializeIncremental(deps, {
      end: END - 5 * DAY,
      views: ['credit_history'],
    });
    expect(earlier.unitsTotal).toBe(0);
    expect(earlier.rowsScanned).toBe(0);
    expect(earlier.watermarkMoved).toBe(false);
    expect(await watermarks.getWatermark('credit_history')).toBe(END);
    expect(await watermarks.advanceWatermark('credit_history', END - DAY)).toBe(false);
    expect(await watermarks.getWatermark('credit_history')).toBe(END);
  });

  it('skips row groups whose event_timestamp statistics are outside the window, reading only footers to plan', async () => {
    const dir = await tempDir();
    // Four row groups of 10 rows, one day apart; the second run's window holds only the last two.
    const rows = [0, 1, 2, 3].flatMap((day) =>
      creditRows(10, END + day * DAY + 1000, day * 100).map((r, i) => ({
        ...r,
        key: `1980010${day}_${i}`,
      })),
    );
    const file = await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      rows,
      {
        rowGroupSize: 10,
      },
    );
    let bytesRead = 0;
    const real = parquetSourceReader();
    const counting: ParquetSourceReader = {
      listFiles: real.listFiles,
      async open(location) {
        const buffer = await real.open(location);
        return {
          byteLength: buffer.byteLength,
          slice: async (start, end) => {
            const bytes = await buffer.slice(start, end);
            bytesRead += bytes.byteLength;
            return bytes;
          },
        };
      },
    };
    const { deps, watermarks, hash } = setup(dir, { reader: counting });
    await watermarks.advanceWatermark('credit_history', END + DAY + 1000);

    const plan = await planMaterialization(deps, {
      end: END + 10 * DAY,
      views: ['credit_history'],
    });
    expect(plan.stats.credit_history).toEqual({ files: 1, rowGroups: 4, rowGroupsSkipped: 2 });
    expect(plan.units.map((u) => [u.file, u.rowGroupStart, u.rowGroupEnd])).toEqual([[file, 2, 4]]);
    expect(bytesRead).toBeGreaterThan(0);

    const summary = await materializeIncremental(deps, {
      end: END + 10 * DAY,
      views: ['credit_history'],
    });
    expect(summary.rowGroupsSkipped).toBe(2);
    expect(summary.rowsScanned).toBe(20);
    expect(await hash('dob_ssn', '19800101_0')).toEqual({});
    expect(await hash('dob_ssn', '19800102_0')).not.toEqual({});
  });
});

describe('units', () => {
  it('splits a file into row-group ranges of at most maxRowsPerUnit rows, and refuses a file rewritten after planning', async () => {
    const dir = await tempDir();
    const file = await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(50, END - DAY),
      {
        rowGroupSize: 10,
      },
    );
    const { deps, hash } = setup(dir, { maxRowsPerUnit: 20 });
    const plan = await planMaterialization(deps, { end: END, views: ['credit_history'] });
    expect(plan.units.map((u) => [u.rowGroupStart, u.rowGroupEnd, u.rows])).toEqual([
      [0, 2, 20],
      [2, 4, 20],
      [4, 5, 10],
    ]);
    await writeViewParquet(file, creditHistory, creditRows(60, END - DAY), { rowGroupSize: 10 });
    await expect(runMaterializationUnit(deps, plan.units[0])).rejects.toThrow(SourceChangedError);
    await expect(runMaterializationUnit(deps, plan.units[0])).rejects.toThrow(
      /credit_history\.parquet: is \d+ bytes but was/,
    );
    expect(await hash('dob_ssn', '19800101_0000')).toEqual({});
    expect(await deps.watermarks.completedUnitCount(plan.windowId)).toBe(0);
  });
});

describe('late rows, newer values, idempotence', () => {
  it('follows Feast: a late file with rows older than the watermark is not picked up incrementally, a backfill (--start) loads it without overwriting newer values', async () => {
    const dir = path.join(await tempDir(), 'credit_history.parquet'); // a folder of daily files
    await writeViewParquet(
      path.join(dir, 'day1.parquet'),
      creditHistory,
      creditRows(3, END - 2 * DAY, 0),
    );
    const { deps, hash } = setup(path.dirname(dir));
    await materializeIncremental(deps, { end: END, views: ['credit_history'] });
    const before = await hash('dob_ssn', '19800101_0000');

    // Arrives after the run: entity 0000 older than what is stored, entity 0009 brand new.
    await writeViewParquet(path.join(dir, 'late.parquet'), creditHistory, [
      { key: '19800101_0000', eventTs: END - 5 * DAY, seed: 77 },
      { key: '19800101_0009', eventTs: END - 5 * DAY, seed: 78 },
    ]);
    const incremental = await materializeIncremental(deps, {
      end: END + DAY,
      views: ['credit_history'],
    });
    expect(incremental.rowGroupsSkipped).toBe(2); // both files' row groups are before the watermark
    expect(await hash('dob_ssn', '19800101_0009')).toEqual({});

    const backfill = await materializeIncremental(deps, {
      start: END - 30 * DAY,
      end: END + DAY,
      views: ['credit_history'],
    });
    expect(backfill.stores.redis).toEqual({ written: 1, skippedNotNewer: 4 });
    expect(await hash('dob_ssn', '19800101_0000')).toEqual(before);
    expect((await hash('dob_ssn', '19800101_0009'))['credit_history:credit_card_due']).toBe('780');
  });

  it('keeps the latest row per entity (event, then created timestamp) across row groups and files, and never overwrites a newer stored value', async () => {
    const base = await tempDir();
    const dir = path.join(base, 'zipcode_table.parquet'); // a folder named like the file
    await writeViewParquet(
      path.join(dir, 'a.parquet'),
      zipcodeFeatures,
      [
        { key: 7, eventTs: END - 3 * DAY, seed: 1 },
        { key: 7, eventTs: END - 1 * DAY, createdTs: END - DAY, seed: 2 },
        { key: 8, eventTs: END - 2 * DAY, seed: 3 },
      ],
      { rowGroupSize: 1 },
    );
    await writeViewParquet(path.join(dir, 'b.parquet'), zipcodeFeatures, [
      { key: 7, eventTs: END - 1 * DAY, createdTs: END - DAY + 5, seed: 4 }, // same event, created later: wins
      { key: 7, eventTs: END - 4 * DAY, seed: 5 },
    ]);
    const { deps, hash, store } = setup(base);
    // A newer row for zipcode 8 is already stored (e.g. by a streaming push).
    await store.write([
      {
        view: zipcodeFeatures,
        entityKey: 8,
        eventTimestamp: END - DAY / 2,
        createdTimestamp: 0,
        values: { city: 'NEWER' },
      },
    ]);
    const summary = await materializeIncremental(deps, {
      end: END,
      views: ['zipcode_features'],
      parallel: 3,
    });
    expect(summary.views.zipcode_features.files).toBe(2);
    expect(summary.unitsTotal).toBe(2);
    expect((await hash('zipcode', 7))['zipcode_features:city']).toBe('city-4');
    expect((await hash('zipcode', 8))['zipcode_features:city']).toBe('NEWER');
  });

  it('a re-run of the same window is idempotent', async () => {
    const dir = await tempDir();
    await writeViewParquet(
      path.join(dir, 'zipcode_table.parquet'),
      zipcodeFeatures,
      zipcodeRows(50, END - DAY),
    );
    await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(50, END - DAY),
    );
    const { deps, prefix } = setup(dir);
    const snapshot = async () => {
      const keys = (await admin.keys(`${prefix}*`))
        .filter((k) => !k.includes('_materialization'))
        .sort();
      return Promise.all(keys.map(async (k) => [k, await admin.hGetAll(k)]));
    };
    const first = await materializeIncremental(deps, { end: END, parallel: 2 });
    const afterFirst = await snapshot();
    // Same window again (a retried scheduler before the watermark was read).
    const again = await materializeIncremental(deps, {
      start: END - 10 * DAY,
      end: END,
      parallel: 2,
    });
    expect(first.stores.redis.written).toBe(100);
    expect(again.stores.redis).toEqual({ written: 0, skippedNotNewer: 100 });
    expect(await snapshot()).toEqual(afterFirst);
    expect(afterFirst).toHaveLength(100);
  });
});
