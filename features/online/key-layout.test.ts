import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { creditHistory, zipcodeFeatures } from '../definitions.js';
import { InvalidEntityKeyError, KeyLayout, viewFieldNames } from './key-layout.js';

describe('KeyLayout', () => {
  it('builds the documented Redis keys, DynamoDB partition keys and field names', () => {
    const layout = new KeyLayout();
    expect(layout.redisKey('zipcode', 76104)).toBe('loan:zipcode:76104');
    expect(layout.redisKey('dob_ssn', '19630621_4278')).toBe('loan:dob_ssn:19630621_4278');
    expect(new KeyLayout({ redisKeyPrefix: 'x:' }).redisKey('zipcode', '00501')).toBe(
      'x:zipcode:501',
    );
    expect(layout.dynamoPartitionKey('dob_ssn', '19630621_4278')).toBe('dob_ssn#19630621_4278');
    const names = viewFieldNames(creditHistory);
    expect(names.features[0]).toBe('credit_history:credit_card_due');
    expect(names.eventTs).toBe('credit_history:_event_ts');
    expect(names.createdTs).toBe('credit_history:_created_ts');
    expect(viewFieldNames(zipcodeFeatures).readFields).toHaveLength(
      zipcodeFeatures.features.length + 1,
    );
  });

  it('routes every key through the one encoder hook (keyed hashing)', () => {
    const hmac = (entity: string, key: string) =>
      createHmac('sha256', 'secret').update(`${entity}:${key}`).digest('hex');
    const layout = new KeyLayout({ encodeEntityKey: hmac });
    const redisKey = layout.redisKey('dob_ssn', '19630621_4278');
    const pk = layout.dynamoPartitionKey('dob_ssn', '19630621_4278');
    expect(redisKey).toBe(`loan:dob_ssn:${hmac('dob_ssn', '19630621_4278')}`);
    expect(pk).toBe(`dob_ssn#${hmac('dob_ssn', '19630621_4278')}`);
    expect(redisKey + pk).not.toContain('19630621');
  });

  it.each([
    ['zipcode', 1.5],
    ['zipcode', 'abc'],
    ['dob_ssn', ''],
    ['dob_ssn', 19630621],
  ] as const)('rejects the %s key %j without echoing it', (entity, key) => {
    const layout = new KeyLayout();
    expect(() => layout.redisKey(entity, key)).toThrow(InvalidEntityKeyError);
    expect(() => layout.redisKey(entity, key)).not.toThrow(String(key) || 'never');
  });
});
