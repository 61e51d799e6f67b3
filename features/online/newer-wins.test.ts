/**
 * The newer-wins write script (redis-commands.ts) and its rows encoding (feature-rows-json.ts),
 * against a real redis-server directly and through the Upstash REST bridge. Expectations come
 * from a plain in-memory model of "newer wins", not from the script.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { creditHistory, zipcodeFeatures } from '../definitions.js';
import { startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../../test/harness/upstash-bridge.js';
import { creditRecord, uniquePrefix, zipcodeRecord } from '../../test/harness/feature-records.js';
import { encodeFeatureRowsJson } from './feature-rows-json.js';
import { featureRecords, featureRowsByView } from './feature-rows.js';
import { latestRows } from '../offline/latest-per-entity.js';
import { KeyLayout, viewFieldNames } from './key-layout.js';
import { RedisTcpStore } from './redis-tcp.js';
import type { FeatureRecord, OnlineStore } from './types.js';
import { UpstashStore } from './upstash.js';

const TOKEN = 'newer-wins-test-token';
let redis: RedisServerHandle;
let bridge: UpstashBridgeHandle;
let admin: ReturnType<typeof createClient>;

beforeAll(async () => {
  redis = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN });
  admin = createClient({ url: redis.url, RESP: 2 });
  await admin.connect();
});

afterAll(async () => {
  await admin?.close();
  await bridge?.stop();
  await redis?.stop();
});

describe('encodeFeatureRowsJson', () => {
  const value = fc.oneof(
    fc.constant(null),
    fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
    fc.maxSafeInteger(),
    fc.double(), // 1.5, 1e+300, -0, NaN, Infinity: written as String() writes them
    fc.string({ unit: 'binary' }), // quotes, backslashes, control characters, astral planes
  );

  it('writes what JSON.stringify writes for the rows of String() values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.maxSafeInteger(), fc.maxSafeInteger(), fc.array(value)), {
          minLength: 1,
          maxLength: 30,
        }),
        (rows) => {
          const records = rows.map(([event, created, values], i) =>
            zipcodeRecord(i, event, created, {
              city: values[0] ?? null,
              population: values[1] ?? null,
              total_wages: values[2] ?? null,
            }),
          );
          const expected = JSON.stringify(
            records.map((r) => [
              String(r.eventTimestamp),
              String(r.createdTimestamp),
              ...zipcodeFeatures.features.map((f) => {
                const v = r.values[f.name];
                return v === null || v === undefined ? null : String(v);
              }),
            ]),
          );
          const [columns] = featureRowsByView(records);
          const encoded = encodeFeatureRowsJson(columns, 0, records.length).toString('utf8');
          expect(encoded).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes NaN in a Float64Array as null (a Parquet null), NaN in an array as a value', () => {
    const [rows] = featureRowsByView([zipcodeRecord(1, 5, 6)]);
    const columns = {
      ...rows,
      values: rows.values.map((column, f) =>
        zipcodeFeatures.features[f].name === 'population'
          ? Float64Array.of(NaN)
          : zipcodeFeatures.features[f].name === 'total_wages'
            ? [NaN]
            : column,
      ),
    };
    const [row] = JSON.parse(encodeFeatureRowsJson(columns, 0, 1).toString('utf8')) as string[][];
    const at = (name: string) =>
      row[2 + zipcodeFeatures.features.findIndex((f) => f.name === name)];
    expect(at('population')).toBeNull();
    expect(at('total_wages')).toBe('NaN');
    expect(row.slice(0, 2)).toEqual(['5', '6']);
  });

  it('encodes a sub-range and grows past its scratch buffer', () => {
    const long = 'x'.repeat(100_000);
    const records = [
      zipcodeRecord(1, 1, 1),
      zipcodeRecord(2, 2, 2, { city: long }),
      zipcodeRecord(3, 3, 3),
    ];
    const [columns] = featureRowsByView(records);
    const rows = JSON.parse(encodeFeatureRowsJson(columns, 1, 3).toString('utf8')) as string[][];
    expect(rows.map((row) => row[0])).toEqual(['2', '3']);
    expect(rows[0][2]).toBe(long);
  });
});

/** Stored state of one hash field set, as the model sees it. */
interface ModelRow {
  event: number;
  created: number;
  values: Record<string, string>;
}

/**
 * Newer wins, applied in order: a record replaces the stored row only if its event timestamp is
 * later, or equal with a strictly later created timestamp; nulls remove the field.
 */
function applyModel(model: Map<string, ModelRow>, layout: KeyLayout, record: FeatureRecord) {
  const id = `${layout.redisKey(record.view.entity.name, record.entityKey)}|${record.view.name}`;
  const stored = model.get(id);
  const newer =
    !stored ||
    record.eventTimestamp > stored.event ||
    (record.eventTimestamp === stored.event && record.createdTimestamp > stored.created);
  if (!newer) return false;
  const names = viewFieldNames(record.view);
  const values: Record<string, string> = {
    [names.eventTs]: String(record.eventTimestamp),
    [names.createdTs]: String(record.createdTimestamp),
  };
  record.view.features.forEach((feature, i) => {
    const value = record.values[feature.name];
    if (value !== null && value !== undefined) values[names.features[i]] = String(value);
  });
  model.set(id, { event: record.eventTimestamp, created: record.createdTimestamp, values });
  return true;
}

const stores: [string, (prefix: string) => OnlineStore][] = [
  [
    'redis',
    (prefix) => new RedisTcpStore({ url: redis.url, keyPrefix: prefix, recordsPerScript: 3 }),
  ],
  [
    'upstash',
    (prefix) =>
      new UpstashStore({ url: bridge.url, token: TOKEN, keyPrefix: prefix, recordsPerScript: 3 }),
  ],
];

describe.each(stores)('newer-wins write script via %s', (_name, makeStore) => {
  it('handles a batch mixing newer, older, equal, tie-by-created, nulls and two views', async () => {
    const prefix = uniquePrefix('newer');
    const store = makeStore(prefix);
    const layout = new KeyLayout({ redisKeyPrefix: prefix });
    const model = new Map<string, ModelRow>();

    const stored = [
      creditRecord('19500101_0001', 1_000, 10),
      creditRecord('19500101_0002', 1_000, 10),
      creditRecord('19500101_0003', 1_000, 10),
      creditRecord('19500101_0004', 1_000, 10),
      creditRecord('19500101_0005', 1_000, 10),
      creditRecord('19500101_0006', 1_000, 10, { hard_pulls: 4 }),
      zipcodeRecord(76104, 5_000, 5),
    ];
    const batch = [
      creditRecord('19500101_0001', 2_000, 0, { hard_pulls: 7 }), // newer event
      creditRecord('19500101_0002', 999, 99, { hard_pulls: 8 }), // older event
      creditRecord('19500101_0003', 1_000, 10, { hard_pulls: 9 }), // equal: skipped
      creditRecord('19500101_0004', 1_000, 11, { hard_pulls: 10 }), // tie, later created
      creditRecord('19500101_0005', 1_000, 9, { hard_pulls: 11 }), // tie, earlier created
      // newer with nulls: those fields must disappear
      creditRecord('19500101_0006', 1_001, 0, { hard_pulls: null, bankruptcies: null }),
      creditRecord('19500101_0007', 1, 1, { mortgage_due: null }), // new key with a null
      zipcodeRecord(76104, 4_999, 9, { city: 'OLDER' }), // other view, older
      zipcodeRecord(10001, 7, 7, { city: 'NEW "YORK" \\ ☃' }), // other view, new key
      // same entity twice in one batch, newer second: both written, newest stays
      creditRecord('19500101_0008', 5, 5, { hard_pulls: 1 }),
      creditRecord('19500101_0008', 6, 5, { hard_pulls: 2 }),
      // same entity twice, older second: the second is skipped
      creditRecord('19500101_0009', 6, 5, { hard_pulls: 3 }),
      creditRecord('19500101_0009', 5, 5, { hard_pulls: 4 }),
    ];
    for (const record of stored) applyModel(model, layout, record);
    expect(await store.write(stored)).toEqual({ written: stored.length, skippedNotNewer: 0 });

    // Records of one view keep their order; the two views are independent.
    let expectedWritten = 0;
    for (const record of batch) if (applyModel(model, layout, record)) expectedWritten++;
    expect(await store.write(batch)).toEqual({
      written: expectedWritten,
      skippedNotNewer: batch.length - expectedWritten,
    });
    expect(expectedWritten).toBe(8); // the model itself, checked by hand

    for (const [id, row] of model) {
      const [key, viewName] = id.split('|');
      const hash = await admin.hGetAll(key);
      const ofView = Object.fromEntries(
        Object.entries(hash).filter(([field]) => field.startsWith(`${viewName}:`)),
      );
      expect(ofView, id).toEqual(row.values);
    }

    // Idempotent: the same batch again changes nothing and writes nothing.
    const before = await admin.hGetAll(`${prefix}dob_ssn:19500101_0006`);
    expect(await store.write(batch)).toEqual({ written: 0, skippedNotNewer: batch.length });
    expect(await admin.hGetAll(`${prefix}dob_ssn:19500101_0006`)).toEqual(before);
    await store.close?.();
  });
});

describe.each(stores)('columns (FeatureRows) via %s', (_name, makeStore) => {
  it('store exactly what the same rows as records store, and only the rows selected', async () => {
    // zipcode_features as parquet-table.ts decodes it: numbers in Float64Arrays (null → NaN),
    // strings in arrays (null → null), a created_timestamp missing at one row.
    const columns = {
      zipcode: Float64Array.of(76104, 10001, 76104, 60601, 94105),
      city: ['FORT WORTH', 'NEW "YORK" \\ ☃', 'FORT WORTH (NEWER)', null, 'SF'],
      state: ['TX', 'NY', 'TX', 'IL', 'CA'],
      location_type: ['PRIMARY', 'PRIMARY', 'PRIMARY', 'PRIMARY', 'PRIMARY'],
      tax_returns_filed: Float64Array.of(1, 2, 3, NaN, 5),
      population: Float64Array.of(100, 200, 300, 400, 500),
      total_wages: Float64Array.of(9_007_199_254_740_991, 0, -5, 7, 8),
      event_timestamp: Float64Array.of(1_000, 2_000, 3_000, 4_000, 99_000),
      created_timestamp: Float64Array.of(1_000, NaN, 3_000, 4_000, 99_000),
    };
    // The window leaves out the last row; 76104's newer row wins.
    const { rows } = latestRows(zipcodeFeatures, columns, { window: { end: 50_000 } });
    expect([...rows.rows]).toEqual([2, 1, 3]);

    const asColumns = uniquePrefix('columns');
    const asRecords = uniquePrefix('records');
    const columnStore = makeStore(asColumns);
    const recordStore = makeStore(asRecords);
    expect(await columnStore.write(rows)).toEqual({ written: 3, skippedNotNewer: 0 });
    expect(await recordStore.write(featureRecords(rows))).toEqual({
      written: 3,
      skippedNotNewer: 0,
    });
    for (const zipcode of [76104, 10001, 60601]) {
      const hash = await admin.hGetAll(`${asColumns}zipcode:${zipcode}`);
      expect(hash, String(zipcode)).toEqual(await admin.hGetAll(`${asRecords}zipcode:${zipcode}`));
    }
    const fortWorth = await admin.hGetAll(`${asColumns}zipcode:76104`);
    expect(fortWorth['zipcode_features:city']).toBe('FORT WORTH (NEWER)');
    const chicago = await admin.hGetAll(`${asColumns}zipcode:60601`);
    expect(chicago['zipcode_features:city']).toBeUndefined();
    expect(chicago['zipcode_features:tax_returns_filed']).toBeUndefined();
    const newYork = await admin.hGetAll(`${asColumns}zipcode:10001`);
    expect(newYork['zipcode_features:_created_ts']).toBe('2000');
    expect(await admin.exists(`${asColumns}zipcode:94105`)).toBe(0);

    // Newer wins against columns too: the same rows again write nothing.
    expect(await columnStore.write(rows)).toEqual({ written: 0, skippedNotNewer: 3 });
    await columnStore.close?.();
    await recordStore.close?.();
  });
});

describe('newer-wins write script sizes', () => {
  it('writes a view with string values through several calls of one pipeline', async () => {
    const prefix = uniquePrefix('calls');
    const store = new RedisTcpStore({ url: redis.url, keyPrefix: prefix, recordsPerScript: 7 });
    const records = Array.from({ length: 50 }, (_, i) =>
      creditRecord(`19600101_${i}`, 100 + i, 0, { credit_card_due: i * 1_000_003 }),
    );
    expect(await store.write(records)).toEqual({ written: 50, skippedNotNewer: 0 });
    const hash = await admin.hGetAll(`${prefix}dob_ssn:19600101_49`);
    expect(hash[`${creditHistory.name}:credit_card_due`]).toBe(String(49 * 1_000_003));
    expect(hash[`${creditHistory.name}:_event_ts`]).toBe('149');
    await store.close();
  });
});
