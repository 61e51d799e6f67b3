import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditHistory, zipcodeFeatures } from '../definitions.js';
import { featureRecords } from '../online/feature-rows.js';
import { LatestPerEntity, latestPerEntity, latestRows } from './latest-per-entity.js';
import type { ColumnarRows } from './parquet-table.js';

/** Builds zipcode_features columns from compact rows: [zipcode, city, population, event, created]. */
function zipcodeColumns(
  rows: [number, string | null, number | null, number, number][],
): ColumnarRows {
  const numeric = (values: (number | null)[]) => Float64Array.from(values, (v) => v ?? NaN);
  return {
    zipcode: numeric(rows.map((r) => r[0])),
    city: rows.map((r) => r[1]),
    state: rows.map(() => 'TX'),
    location_type: rows.map(() => 'PRIMARY'),
    tax_returns_filed: numeric(rows.map(() => 10)),
    population: numeric(rows.map((r) => r[2])),
    total_wages: numeric(rows.map(() => 1_000)),
    event_timestamp: numeric(rows.map((r) => r[3])),
    created_timestamp: numeric(rows.map((r) => r[4])),
  };
}

const byKey = (records: ReturnType<typeof latestPerEntity>) =>
  Object.fromEntries(
    records.map((r) => [
      r.entityKey,
      { city: r.values.city, at: r.eventTimestamp, created: r.createdTimestamp },
    ]),
  );

describe('latestPerEntity', () => {
  it('keeps the max event timestamp, then the max created timestamp, regardless of row order', () => {
    const rows: [number, string, number, number, number][] = [
      [1, 'newest-event', 5, 300, 300],
      [1, 'older-event-later-created', 5, 200, 900],
      [2, 'first-created', 5, 100, 100],
      [2, 'later-created', 5, 100, 150],
      [2, 'earlier-created', 5, 100, 120],
    ];
    for (const order of [rows, [...rows].reverse()]) {
      expect(byKey(latestPerEntity(zipcodeFeatures, zipcodeColumns(order)))).toEqual({
        1: { city: 'newest-event', at: 300, created: 300 },
        2: { city: 'later-created', at: 100, created: 150 },
      });
    }
  });

  it('on a full tie keeps the row seen last (an appended correction wins)', () => {
    const records = latestPerEntity(
      zipcodeFeatures,
      zipcodeColumns([
        [7, 'original', 1, 50, 50],
        [7, 'correction', 1, 50, 50],
      ]),
    );
    expect(records.map((r) => r.values.city)).toEqual(['correction']);
  });

  it('applies the window (start exclusive, end inclusive)', () => {
    const columns = zipcodeColumns([
      [1, 'at-start', 1, 100, 100],
      [1, 'inside', 1, 150, 150],
      [2, 'at-end', 1, 200, 200],
      [2, 'after-end', 1, 201, 201],
      [3, 'only-at-start', 1, 100, 100],
    ]);
    expect(
      byKey(latestPerEntity(zipcodeFeatures, columns, { window: { start: 100, end: 200 } })),
    ).toEqual({
      1: { city: 'inside', at: 150, created: 150 },
      2: { city: 'at-end', at: 200, created: 200 },
    });
  });

  it('maps NaN / null feature values to null and skips rows without key or timestamp', () => {
    const records = latestPerEntity(
      zipcodeFeatures,
      zipcodeColumns([
        [NaN, 'no-key', 1, 10, 10],
        [4, 'no-time', 1, NaN, 10],
        [4, null, null, 5, 5],
      ]),
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ view: zipcodeFeatures, entityKey: 4, eventTimestamp: 5 });
    expect(records[0].values).toEqual({
      city: null,
      state: 'TX',
      location_type: 'PRIMARY',
      tax_returns_filed: 10,
      population: null,
      total_wages: 1_000,
    });
  });

  it('accumulates across batches (row groups) and string keys', () => {
    const batch = (key: string, due: number, at: number): ColumnarRows => {
      const columns: ColumnarRows = {
        dob_ssn: [key],
        event_timestamp: Float64Array.of(at),
        created_timestamp: Float64Array.of(at),
      };
      for (const f of creditHistory.features) columns[f.name] = Float64Array.of(due);
      return columns;
    };
    const latest = new LatestPerEntity(creditHistory);
    expect(latest.add(batch('19800101_0001', 1, 20))).toEqual({ scanned: 1, inWindow: 1 });
    latest.add(batch('19800101_0001', 2, 10));
    latest.add(batch('19800101_0002', 3, 5));
    latest.add(batch('19800101_0001', 4, 30));
    expect(latest.size).toBe(2);
    expect(latest.records().map((r) => [r.entityKey, r.values.credit_card_due])).toEqual([
      ['19800101_0001', 4],
      ['19800101_0002', 3],
    ]);
  });
});

describe('latestRows', () => {
  // Few keys and timestamps, so that duplicates, ties and window edges are common; now and then
  // a missing key, value or timestamp.
  const sometimes = <T, U>(usual: fc.Arbitrary<T>, missing: U) =>
    fc.oneof({ arbitrary: usual, weight: 9 }, { arbitrary: fc.constant(missing), weight: 1 });
  const time = fc.integer({ min: 0, max: 4 }).map((t) => t * 100);
  const row = fc.tuple(
    sometimes(fc.integer({ min: 1, max: 4 }), null),
    sometimes(fc.constantFrom('a', 'b', 'c'), null),
    sometimes(fc.integer({ min: 0, max: 3 }), null),
    sometimes(time, NaN),
    sometimes(time, NaN),
  );

  it('keeps the same rows as LatestPerEntity, in the same order, for any slice and window', () => {
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 60, size: 'medium' }),
        fc.nat({ max: 3 }),
        fc.nat({ max: 3 }),
        fc.option(fc.integer({ min: -1, max: 4 }).map((t) => t * 100)),
        fc.option(fc.integer({ min: 0, max: 5 }).map((t) => t * 100)),
        (rows, skipFirst, skipLast, start, end) => {
          const columns = zipcodeColumns(rows as [number, string, number, number, number][]);
          const offset = Math.min(skipFirst, rows.length);
          const count = Math.max(0, rows.length - offset - skipLast);
          const window = { start: start ?? undefined, end: end ?? undefined };
          const expected = new LatestPerEntity(zipcodeFeatures, { window });
          const slice = Object.fromEntries(
            Object.entries(columns).map(([name, values]) => [
              name,
              values.slice(offset, offset + count),
            ]),
          ) as ColumnarRows;
          const expectedCounts = expected.add(slice, count);

          const latest = latestRows(zipcodeFeatures, columns, { window, offset, rows: count });
          expect({ scanned: latest.scanned, inWindow: latest.inWindow }).toEqual(expectedCounts);
          expect(featureRecords(latest.rows)).toEqual(expected.records());
        },
      ),
      { numRuns: 500 },
    );
  });

  it('points into the columns it was given, without copying them', () => {
    const columns = zipcodeColumns([
      [1, 'old', 5, 100, 100],
      [2, 'only', 5, 100, 100],
      [1, 'new', 5, 200, 200],
    ]);
    const { rows } = latestRows(zipcodeFeatures, columns);
    expect([...rows.rows]).toEqual([2, 1]);
    expect(rows.entityKeys).toBe(columns.zipcode);
    expect(rows.values[zipcodeFeatures.features.findIndex((f) => f.name === 'city')]).toBe(
      columns.city,
    );
  });
});
