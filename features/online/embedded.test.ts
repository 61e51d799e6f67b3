import { describe, expect, it } from 'vitest';
import { creditHistory, featureViews, zipcodeFeatures } from '../definitions.js';
import { creditRecord, zipcodeRecord } from '../../test/harness/feature-records.js';
import { EmbeddedStore } from './embedded.js';
import { StoreUnavailableError } from './types.js';

const NOW = Date.UTC(2025, 0, 15);

describe('EmbeddedStore', () => {
  it('answers statuses like the real stores: present, stale, not_found', async () => {
    const store = new EmbeddedStore();
    await store.write([
      zipcodeRecord(76104, NOW - 1),
      zipcodeRecord(10001, NOW - zipcodeFeatures.ttlSeconds * 1000 - 1),
      creditRecord('19630621_4278', NOW - 2, NOW, { bankruptcies: null }),
    ]);
    const { results, servedBy } = await store.read(
      [
        { zipcode: 76104, dob_ssn: '19630621_4278' },
        { zipcode: 10001, dob_ssn: 'unknown' },
      ],
      featureViews,
      { now: NOW },
    );
    expect(servedBy).toBe('embedded');
    expect(results[0].zipcode_features).toMatchObject({
      status: 'present',
      eventTimestamp: NOW - 1,
    });
    expect(results[0].zipcode_features.values.total_wages).toBe(203_102_512);
    expect(results[0].credit_history.values.bankruptcies).toBeNull();
    expect(results[1].zipcode_features.status).toBe('stale');
    expect(results[1].credit_history).toEqual({
      status: 'not_found',
      eventTimestamp: null,
      values: {},
    });
    expect(store.size('zipcode_features')).toBe(2);
  });

  it('never replaces a newer row; ties on event time go to the later created time', async () => {
    const store = new EmbeddedStore();
    const key = '19630621_4278';
    expect(await store.write([creditRecord(key, 1_000, 10, { hard_pulls: 1 })])).toEqual({
      written: 1,
      skippedNotNewer: 0,
    });
    expect(
      await store.write([
        creditRecord(key, 900, 99, { hard_pulls: 2 }),
        creditRecord(key, 1_000, 10, { hard_pulls: 3 }),
      ]),
    ).toEqual({ written: 0, skippedNotNewer: 2 });
    expect(await store.write([creditRecord(key, 1_000, 11, { hard_pulls: 4 })])).toEqual({
      written: 1,
      skippedNotNewer: 0,
    });
    const { results } = await store.read([{ zipcode: 1, dob_ssn: key }], [creditHistory], {
      now: 2_000,
    });
    expect(results[0].credit_history.values.hard_pulls).toBe(4);
  });

  it('honours an aborted signal', async () => {
    const store = new EmbeddedStore();
    await expect(
      store.read([{ zipcode: 1, dob_ssn: 'x' }], featureViews, { signal: AbortSignal.abort() }),
    ).rejects.toThrow(StoreUnavailableError);
  });
});
