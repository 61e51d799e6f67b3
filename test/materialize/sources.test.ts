/**
 * Sources: s3:// (s3rver, checksums WHEN_REQUIRED via createS3Client) as a single object and as a
 * folder of objects, unreadable objects, and the real public files (local and on S3).
 */
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditHistory, zipcodeFeatures } from '../../features/definitions.js';
import { FileWatermarkStore } from '../../features/materialize/file-watermark-store.js';
import {
  MaterializationRunError,
  materializeIncremental,
} from '../../features/materialize/materialize-incremental.js';
import { parquetSourceReader } from '../../features/materialize/parquet-source.js';
import type { MaterializeDeps } from '../../features/materialize/types.js';
import { RedisTcpStore } from '../../features/online/redis-tcp.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startS3rver, uploadFiles, type S3rverHandle } from '../harness/s3rver.js';
import { DAY, creditRows, tempDir, viewParquetBytes, zipcodeRows } from './fixtures.js';

const END = Date.parse('2026-06-01T00:00:00Z');
const repoRoot = path.resolve(import.meta.dirname, '../..');
const realData = path.resolve(repoRoot, '../shared/data/feast-credit-scoring');

let s3rver: S3rverHandle;
let s3: S3Client;
let redis: RedisServerHandle;
const stores: RedisTcpStore[] = [];

beforeAll(async () => {
  [s3rver, redis] = await Promise.all([startS3rver(), startRedisServer()]);
  s3 = s3rver.client();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  s3?.destroy();
  await Promise.all([s3rver?.stop(), redis?.stop()]);
});

async function setup(source: string): Promise<{ deps: MaterializeDeps; store: RedisTcpStore }> {
  const store = new RedisTcpStore({ url: redis.url, keyPrefix: `${randomUUID().slice(0, 8)}:` });
  stores.push(store);
  const deps: MaterializeDeps = {
    source,
    reader: parquetSourceReader({ s3 }),
    stores: [store],
    watermarks: new FileWatermarkStore(path.join(await tempDir(), 'state.json')),
  };
  return { deps, store };
}

async function read(store: RedisTcpStore, zipcode: number, dobSsn: string, now = END) {
  return (
    await store.read([{ zipcode, dob_ssn: dobSsn }], [zipcodeFeatures, creditHistory], { now })
  ).results[0];
}

describe('s3:// sources', () => {
  it('reads a single object and a folder of objects with byte ranges', async () => {
    const bucket = `b${randomUUID().slice(0, 8)}`;
    await uploadFiles(s3, bucket, {
      'features/zipcode_table.parquet': viewParquetBytes(
        zipcodeFeatures,
        zipcodeRows(20, END - DAY),
      ),
      'features/credit_history.parquet/2026-05-30.parquet': viewParquetBytes(
        creditHistory,
        creditRows(10, END - 2 * DAY),
      ),
      'features/credit_history.parquet/2026-05-31.parquet': viewParquetBytes(
        creditHistory,
        creditRows(10, END - DAY, 500),
      ),
      'features/credit_history.parquet/_SUCCESS': new Uint8Array(0),
    });
    const { deps, store } = await setup(`s3://${bucket}/features`);
    const summary = await materializeIncremental(deps, { end: END, parallel: 2 });
    expect(summary.ok).toBe(true);
    expect(summary.views.credit_history.files).toBe(2);
    expect(summary.rowsScanned).toBe(40);
    const row = await read(store, 10_003, '19800101_0003');
    expect(row.zipcode_features.values.city).toBe('city-3');
    expect(row.credit_history.values.credit_card_due).toBe(5030); // the newer file's row
  });

  it('an unreadable object (missing source) names its location and leaves the watermark alone', async () => {
    const bucket = `b${randomUUID().slice(0, 8)}`;
    await uploadFiles(s3, bucket, {
      'features/zipcode_table.parquet': viewParquetBytes(
        zipcodeFeatures,
        zipcodeRows(2, END - DAY),
      ),
    });
    const { deps } = await setup(`s3://${bucket}/features`);
    const error = (await materializeIncremental(deps, { end: END }).catch(
      (e: unknown) => e,
    )) as MaterializationRunError;
    expect(error).toBeInstanceOf(MaterializationRunError);
    expect(error.message).toContain(`s3://${bucket}/features/credit_history.parquet`);
    expect(await deps.watermarks.getWatermark('zipcode_features')).toBeNull();
  });
});

describe.skipIf(!existsSync(realData))('the real public files', () => {
  const check = async (source: string) => {
    const { deps, store } = await setup(source);
    const end = Date.parse('2026-11-22T00:00:00Z');
    const summary = await materializeIncremental(deps, { end, parallel: 2 });
    expect(summary.ok).toBe(true);
    expect(summary.views.zipcode_features.rowsScanned).toBe(28_844);
    expect(summary.views.credit_history.rowsScanned).toBe(1_000);
    expect(summary.stores.redis.written).toBe(summary.views.zipcode_features.entities + 1_000);
    expect(summary.views.zipcode_features.window.start).toBe('2016-11-24T00:00:00.000Z');
    const row = await read(store, 7675, '19530219_5179', end);
    expect(row.zipcode_features).toMatchObject({
      status: 'present',
      values: { city: 'WESTWOOD', population: 24083 },
    });
    expect(row.credit_history).toMatchObject({
      status: 'present',
      values: { credit_card_due: 8419, mortgage_due: 91803 },
    });
    expect(row.zipcode_features.eventTimestamp).toBe(Date.parse('2017-01-01T12:00:00Z'));
  };

  it('materializes them from the shared folder as is', () => check(realData));

  it('materializes them from S3', async () => {
    const bucket = `real${randomUUID().slice(0, 8)}`;
    await uploadFiles(s3, bucket, {
      'data/zipcode_table.parquet': path.join(realData, 'zipcode_table.parquet'),
      'data/credit_history.parquet': path.join(realData, 'credit_history.parquet'),
    });
    await check(`s3://${bucket}/data`);
  });

  it('after 2026-12-30 a first window no longer reaches the 2017 zipcode rows (their row group is skipped)', async () => {
    const { deps } = await setup(realData);
    const summary = await materializeIncremental(deps, { end: Date.parse('2027-01-15T00:00:00Z') });
    expect(summary.views.zipcode_features.rowGroupsSkipped).toBe(1);
    expect(summary.views.zipcode_features.entities).toBe(0);
    expect(summary.views.credit_history.entities).toBe(1_000);
  });
});
