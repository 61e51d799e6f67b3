import path from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pointInTimeJoin, type EntityKey } from './point-in-time-join.js';
import { creditHistory, zipcodeFeatures } from '../definitions.js';
import { openParquetSource } from './byte-range.js';
import {
  creditHistorySchema,
  loanTableSchema,
  readParquetColumns,
  zipcodeTableSchema,
} from './parquet-table.js';

const DAY = 86_400_000;
const T = Date.UTC(2021, 0, 15, 12);
const TTL_SECONDS = 10 * 86_400;

interface Row {
  key: EntityKey;
  event: number;
  created: number;
}

function join(loans: { key: EntityKey; at: number }[], rows: Row[], ttlSeconds = TTL_SECONDS) {
  return pointInTimeJoin(
    { keys: loans.map((l) => l.key), eventTimestamps: loans.map((l) => l.at) },
    {
      keys: rows.map((r) => r.key),
      eventTimestamps: rows.map((r) => r.event),
      createdTimestamps: rows.map((r) => r.created),
    },
    ttlSeconds,
  );
}

describe('pointInTimeJoin (Feast semantics)', () => {
  it('takes a row whose event timestamp equals the loan time exactly', () => {
    const result = join([{ key: 'a', at: T }], [{ key: 'a', event: T, created: T }]);
    expect([...result.featureRowIndex]).toEqual([0]);
  });

  it('never takes a row from after the loan, even by one millisecond', () => {
    const rows = [
      { key: 'a', event: T - DAY, created: T - DAY },
      { key: 'a', event: T + 1, created: T + 1 },
    ];
    const result = join([{ key: 'a', at: T }], rows);
    expect([...result.featureRowIndex]).toEqual([0]);
    const onlyFuture = join([{ key: 'a', at: T }], [rows[1]]);
    expect([...onlyFuture.featureRowIndex]).toEqual([-1]);
    expect(onlyFuture.onlyFutureRows).toBe(1);
  });

  it('takes the latest event timestamp, then the latest created timestamp', () => {
    const rows: Row[] = [
      { key: 'a', event: T - 2 * DAY, created: T + 9 * DAY }, // older event, late correction
      { key: 'a', event: T - DAY, created: T - DAY }, // same event, created first
      { key: 'a', event: T - DAY, created: T - DAY + 5 }, // same event, created later → wins
      { key: 'a', event: T - DAY, created: T - DAY + 1 },
    ];
    expect([...join([{ key: 'a', at: T }], rows).featureRowIndex]).toEqual([2]);
  });

  it('uses the created timestamp only as a tie-breaker, never as an availability cut-off', () => {
    // Feast orders by created_timestamp but filters on event_timestamp alone.
    const rows = [{ key: 'a', event: T - DAY, created: T + DAY }];
    expect([...join([{ key: 'a', at: T }], rows).featureRowIndex]).toEqual([0]);
  });

  it('keeps a row exactly at the TTL boundary and drops one a millisecond older', () => {
    const ttlMs = TTL_SECONDS * 1000;
    const inside = join([{ key: 'a', at: T }], [{ key: 'a', event: T - ttlMs, created: 0 }]);
    expect([...inside.featureRowIndex]).toEqual([0]);
    const outside = join([{ key: 'a', at: T }], [{ key: 'a', event: T - ttlMs - 1, created: 0 }]);
    expect([...outside.featureRowIndex]).toEqual([-1]);
    expect(outside.outsideTtl).toBe(1);
  });

  it('does not fall back to an older row when the newest eligible one is outside the TTL', () => {
    const ttlMs = TTL_SECONDS * 1000;
    const rows = [
      { key: 'a', event: T - ttlMs - 5, created: 0 },
      { key: 'a', event: T - ttlMs - 1, created: 0 },
    ];
    expect([...join([{ key: 'a', at: T }], rows).featureRowIndex]).toEqual([-1]);
  });

  it('picks the last of exact duplicates, as an appended correction', () => {
    const row = { key: 7, event: T - DAY, created: T - DAY };
    expect([...join([{ key: 7, at: T }], [row, row, row]).featureRowIndex]).toEqual([2]);
  });

  it('gives the same answer whatever the input order', () => {
    const rows: Row[] = [];
    for (let k = 0; k < 5; k++) {
      for (let d = 0; d < 8; d++)
        rows.push({ key: k, event: T - d * DAY, created: T - d * DAY + (d % 3) });
    }
    const loans = [0, 1, 2, 3, 4, 9].flatMap((key) =>
      [-3, 0, 2.5, 4, 7, 11].map((d) => ({ key, at: T - d * DAY })),
    );
    const expected = join(loans, rows).featureRowIndex;
    const shuffled = [...rows]
      .reverse()
      .sort((a, b) => ((Number(a.key) * 7 + a.event) % 13) - ((Number(b.key) * 7 + b.event) % 13));
    const result = join(loans, shuffled);
    const asRows = (indices: Int32Array, source: Row[]) =>
      [...indices].map((i) => (i < 0 ? null : source[i]));
    expect(asRows(result.featureRowIndex, shuffled)).toEqual(asRows(expected, rows));
    // and every match is the brute-force answer
    for (let i = 0; i < loans.length; i++) {
      const eligible = rows.filter(
        (r) =>
          r.key === loans[i].key &&
          r.event <= loans[i].at &&
          r.event >= loans[i].at - TTL_SECONDS * 1000,
      );
      const best = eligible.sort((a, b) => b.event - a.event || b.created - a.created)[0] ?? null;
      expect(asRows(expected, rows)[i]).toEqual(best);
    }
  });

  it('reports missing keys and never matches null keys or timestamps', () => {
    const result = join(
      [
        { key: 'missing', at: T },
        { key: null, at: T },
        { key: 'a', at: NaN },
        { key: 'a', at: T },
      ],
      [
        { key: null, event: T, created: T },
        { key: 'a', event: NaN, created: T },
        { key: 'a', event: T - 1, created: NaN },
      ],
    );
    expect([...result.featureRowIndex]).toEqual([-1, -1, -1, 2]);
    expect(result.keyNotFound).toBe(2);
    expect(result.matched).toBe(1);
  });

  it('keeps string and numeric keys apart', () => {
    const result = join([{ key: '76104', at: T }], [{ key: 76104, event: T, created: T }]);
    expect([...result.featureRowIndex]).toEqual([-1]);
  });

  const realData = path.resolve(import.meta.dirname, '../../../shared/data/feast-credit-scoring');
  it.skipIf(!existsSync(realData))(
    'joins the real loans: 1,000 with credit history, none from the future',
    async () => {
      const read = async (name: string, schema: typeof loanTableSchema) => {
        const location = path.join(realData, name);
        return readParquetColumns(await openParquetSource(location), location, schema);
      };
      const loans = await read('loan_table.parquet', loanTableSchema);
      const credit = await read('credit_history.parquet', creditHistorySchema);
      const zipcodes = await read('zipcode_table.parquet', zipcodeTableSchema);
      const loanTimes = loans.event_timestamp as Float64Array;
      const credits = pointInTimeJoin(
        { keys: loans.dob_ssn as string[], eventTimestamps: loanTimes },
        {
          keys: credit.dob_ssn as string[],
          eventTimestamps: credit.event_timestamp as Float64Array,
          createdTimestamps: credit.created_timestamp as Float64Array,
        },
        creditHistory.ttlSeconds,
      );
      const zips = pointInTimeJoin(
        { keys: loans.zipcode as Float64Array, eventTimestamps: loanTimes },
        {
          keys: zipcodes.zipcode as Float64Array,
          eventTimestamps: zipcodes.event_timestamp as Float64Array,
          createdTimestamps: zipcodes.created_timestamp as Float64Array,
        },
        zipcodeFeatures.ttlSeconds,
      );
      expect(credits.matched).toBe(1000);
      expect(zips.matched).toBeGreaterThan(28_000);
      const creditTimes = credit.event_timestamp as Float64Array;
      for (let i = 0; i < loanTimes.length; i++) {
        const row = credits.featureRowIndex[i];
        if (row >= 0) expect(creditTimes[row]).toBeLessThanOrEqual(loanTimes[i]);
      }
    },
  );
});
