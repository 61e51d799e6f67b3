/**
 * Failure paths against a real redis-server: a store failing after K batches, redis-server killed
 * mid-run, then completed; corrupt, truncated, mis-typed and incomplete files.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { creditHistory, zipcodeFeatures } from '../../features/definitions.js';
import { FileWatermarkStore } from '../../features/materialize/file-watermark-store.js';
import {
  MaterializationRunError,
  materializeIncremental,
} from '../../features/materialize/materialize-incremental.js';
import { parquetSourceReader } from '../../features/materialize/parquet-source.js';
import type { MaterializeDeps } from '../../features/materialize/types.js';
import { ParquetReadError, ParquetSchemaError } from '../../features/offline/parquet-table.js';
import { RedisTcpStore } from '../../features/online/redis-tcp.js';
import type { OnlineStore } from '../../features/online/types.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { DAY, creditRows, tempDir, viewParquetBytes, writeViewParquet } from './fixtures.js';

const END = Date.parse('2026-06-01T00:00:00Z');

let redis: RedisServerHandle;
let admin: ReturnType<typeof createClient>;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  admin = createClient({ url: redis.url, RESP: 2 });
  admin.on('error', () => {});
  await admin.connect();
});

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  await admin?.close().catch(() => {});
  await redis?.stop();
});

function newStore(prefix: string): RedisTcpStore {
  const store = new RedisTcpStore({ url: redis.url, keyPrefix: prefix });
  closers.push(() => store.close());
  return store;
}

/** The real store, failing (or running `before`) once `k` write() calls have gone through. */
function afterKWrites(store: OnlineStore, k: number, before?: () => Promise<void>): OnlineStore {
  let calls = 0;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'write') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<OnlineStore['write']>) => {
        if (++calls > k) {
          if (!before) throw new Error(`injected failure after ${k} writes`);
          await before();
        }
        return target.write(...args);
      };
    },
  });
}

async function snapshot(prefix: string) {
  const keys = (await admin.keys(`${prefix}*`)).sort();
  return Promise.all(keys.map(async (k) => [k, await admin.hGetAll(k)] as const));
}

async function creditSource(count: number) {
  const dir = await tempDir();
  // 20 row groups of count/20 rows; each row group is its own batch, so failures land mid-file.
  await writeViewParquet(
    path.join(dir, 'credit_history.parquet'),
    creditHistory,
    creditRows(count, END - DAY),
    {
      rowGroupSize: count / 20,
    },
  );
  return dir;
}

function deps(source: string, stores: OnlineStore[], stateFile: string): MaterializeDeps {
  return {
    source,
    reader: parquetSourceReader(),
    stores,
    watermarks: new FileWatermarkStore(stateFile),
    writeBatchSize: 25,
    maxRowsPerUnit: 100,
  };
}

describe('a run killed part-way, then completed', () => {
  it('a store failing after K batches: the watermark stays, the re-run completes to the same state as a clean run', async () => {
    const source = await creditSource(400);
    const state = path.join(await tempDir(), 'state.json');
    const prefix = `k${randomUUID().slice(0, 8)}:`;
    const store = newStore(prefix);

    const failing = deps(source, [afterKWrites(store, 5)], state);
    const error = await materializeIncremental(failing, {
      end: END,
      parallel: 2,
      views: ['credit_history'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaterializationRunError);
    const summary = (error as MaterializationRunError).summary;
    expect(summary.ok).toBe(false);
    expect(summary.watermarkMoved).toBe(false);
    expect(summary.error?.message).toContain('injected failure after 5 writes');
    expect(await new FileWatermarkStore(state).getWatermark('credit_history')).toBeNull();
    const partial = (await snapshot(prefix)).length;
    expect(partial).toBeGreaterThanOrEqual(5 * 20); // 5 writes of one 20-row group each
    expect(partial).toBeLessThan(400);

    const completed = await materializeIncremental(deps(source, [store], state), {
      end: END,
      parallel: 2,
      views: ['credit_history'],
    });
    expect(completed.ok).toBe(true);
    expect(completed.watermarkMoved).toBe(true);
    expect(completed.stores.redis.written + completed.stores.redis.skippedNotNewer).toBe(400);

    const cleanPrefix = `c${randomUUID().slice(0, 8)}:`;
    await materializeIncremental(
      deps(source, [newStore(cleanPrefix)], path.join(await tempDir(), 's.json')),
      {
        end: END,
        views: ['credit_history'],
      },
    );
    const strip = (rows: Awaited<ReturnType<typeof snapshot>>, p: string) =>
      rows.map(([k, v]) => [k.slice(p.length), v]);
    expect(strip(await snapshot(prefix), prefix)).toEqual(
      strip(await snapshot(cleanPrefix), cleanPrefix),
    );
  });

  it('redis-server killed mid-run: the run fails with the store error, a later run (Redis back, empty) reloads everything', async () => {
    const source = await creditSource(200);
    const state = path.join(await tempDir(), 'state.json');
    const prefix = `r${randomUUID().slice(0, 8)}:`;
    const store = newStore(prefix);
    const killing = afterKWrites(store, 3, () => redis.kill());

    const error = await materializeIncremental(deps(source, [killing], state), {
      end: END,
      views: ['credit_history'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaterializationRunError);
    expect((error as Error).cause).toMatchObject({ name: 'StoreUnavailableError' });
    expect(await new FileWatermarkStore(state).getWatermark('credit_history')).toBeNull();

    await redis.restart();
    await admin.connect().catch(() => {});
    const fresh = newStore(prefix);
    const completed = await materializeIncremental(deps(source, [fresh], state), {
      end: END,
      views: ['credit_history'],
    });
    expect(completed.ok).toBe(true);
    expect(completed.stores.redis).toEqual({ written: 200, skippedNotNewer: 0 });
    expect(await new FileWatermarkStore(state).getWatermark('credit_history')).toBe(END);
    while (!admin.isReady) await new Promise((r) => setTimeout(r, 20));
    expect(await snapshot(prefix)).toHaveLength(200);
  });
});

describe('bad input: clear error naming file and column, watermark unchanged, nothing stored damaged', () => {
  async function goodThenBad(bad: (dir: string) => Promise<void>) {
    const source = await creditSource(40);
    await writeViewParquet(path.join(source, 'zipcode_table.parquet'), zipcodeFeatures, [
      { key: 1, eventTs: END - DAY, seed: 1 },
    ]);
    const state = path.join(await tempDir(), 'state.json');
    const prefix = `b${randomUUID().slice(0, 8)}:`;
    const store = newStore(prefix);
    await materializeIncremental(deps(source, [store], state), { end: END });
    const before = await snapshot(prefix);
    await bad(source);
    const error = (await materializeIncremental(deps(source, [store], state), {
      end: END + DAY,
    }).catch((e: unknown) => e)) as MaterializationRunError;
    expect(error).toBeInstanceOf(MaterializationRunError);
    expect(error.summary.watermarkMoved).toBe(false);
    const watermarks = new FileWatermarkStore(state);
    expect(await watermarks.getWatermark('credit_history')).toBe(END);
    expect(await watermarks.getWatermark('zipcode_features')).toBe(END);
    expect(await snapshot(prefix)).toEqual(before);
    return error.cause as Error;
  }

  it('a mis-typed column', async () => {
    const cause = await goodThenBad(async (dir) => {
      await writeViewParquet(
        path.join(dir, 'credit_history.parquet'),
        creditHistory,
        creditRows(3, END + 1),
        {
          overrideTypes: { mortgage_due: 'STRING' },
        },
      );
    });
    expect(cause).toBeInstanceOf(ParquetSchemaError);
    expect(cause.message).toContain('credit_history.parquet');
    expect(cause.message).toContain('"mortgage_due"');
    expect(cause.message).toContain('expected int64');
    expect(cause.message).not.toMatch(/19800101_/);
  });

  it('a missing column', async () => {
    const cause = await goodThenBad(async (dir) => {
      const bytes = viewParquetBytes(zipcodeFeatures, [{ key: 2, eventTs: END + 1 }]);
      // A zipcode table where credit_history.parquet should be: dob_ssn and the credit columns are missing.
      await writeFile(path.join(dir, 'credit_history.parquet'), bytes);
    });
    expect(cause).toBeInstanceOf(ParquetSchemaError);
    expect(cause.message).toMatch(/credit_history\.parquet: column "dob_ssn": missing/);
  });

  it('a truncated file (no footer)', async () => {
    const cause = await goodThenBad(async (dir) => {
      const file = path.join(dir, 'zipcode_table.parquet');
      const bytes = await readFile(file);
      await writeFile(file, bytes.subarray(0, bytes.length - 100));
    });
    expect(cause).toBeInstanceOf(ParquetReadError);
    expect(cause.message).toContain('zipcode_table.parquet');
  });

  it('corrupt data pages behind a valid footer fail the unit, not the stores', async () => {
    const cause = await goodThenBad(async (dir) => {
      const file = path.join(dir, 'credit_history.parquet');
      const rows = creditRows(40, END + 1, 1000);
      const bytes = viewParquetBytes(creditHistory, rows, { rowGroupSize: 40 });
      // Scribble over the column chunks (after the magic, before the footer).
      for (let i = 8; i < bytes.length / 2; i++) bytes[i] = 0xff;
      await writeFile(file, bytes);
    });
    expect(cause).toBeInstanceOf(ParquetReadError);
    expect(cause.message).toContain('credit_history.parquet');
  });
});
