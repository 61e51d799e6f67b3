import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applicationFor } from './fixtures/applicant.js';
import {
  KNOWN_APPLICANTS,
  fuzzApp,
  hostileRequest,
  problemsWith,
  prototypeSnapshot,
  send,
  type FuzzApp,
  type HostileRequest,
} from './support/hostile-requests.js';

/**
 * Hostile input against the real app (embedded store with the fuzz applicants): a 2,000-case
 * property-based sample here; `npm run fuzz` runs ≥ 100,000 (scripts/fuzz.ts). Every answer is a
 * JSON 200/400/413/415/422 with an error code when it is an error, and no dob_ssn in any response
 * or log line.
 */

let fuzz: FuzzApp;
const crashes: unknown[] = [];
const onCrash = (error: unknown) => crashes.push(error);
let prototypesBefore: string;

beforeAll(async () => {
  fuzz = await fuzzApp();
  prototypesBefore = prototypeSnapshot();
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
});

afterAll(() => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
});

const valid = JSON.stringify(applicationFor(KNOWN_APPLICANTS[0]));
const request = (
  kind: string,
  body: string | Uint8Array<ArrayBuffer>,
  contentType: string | null = 'application/json',
  dobSsn?: string,
): HostileRequest => ({
  kind,
  body,
  contentType: contentType ?? undefined,
  dobSsns: dobSsn === undefined ? [] : [dobSsn],
});

describe('hostile requests named in the issue', () => {
  it.each<[HostileRequest, number]>([
    [request('valid', valid, 'application/json', KNOWN_APPLICANTS[0]), 200],
    [
      request(
        'valid, column form',
        JSON.stringify(
          Object.fromEntries(
            Object.entries(applicationFor(KNOWN_APPLICANTS[0])).map(([k, v]) => [k, [v]]),
          ),
        ),
      ),
      200,
    ],
    [request('malformed JSON', '{"zipcode": 76104,'), 400],
    [request('empty body', ''), 400],
    [request('a bare number', '1e309'), 400],
    [request('income 1e309 (Infinity once parsed)', valid.replace('59000', '1e309')), 400],
    [request('age beyond 2^53', valid.replace('133', '9007199254740993')), 400],
    [request('age -0', valid.replace('133', '-0')), 200],
    [request('NaN as a string', valid.replace('59000', '"NaN"')), 400],
    [request('NaN as a bare word', valid.replace('59000', 'NaN')), 400],
    [request('a negative loan', valid.replace('35000', '-35000')), 400],
    [request('an absurd loan', valid.replace('35000', '1e200')), 400],
    [
      request(
        'a lone surrogate in dob_ssn',
        valid.replace(KNOWN_APPLICANTS[0], '\\ud800'),
        'application/json',
        '\ud800',
      ),
      400,
    ],
    [
      request(
        'a near-miss dob_ssn',
        valid.replace(KNOWN_APPLICANTS[0], `${KNOWN_APPLICANTS[0]}0`),
        'application/json',
        `${KNOWN_APPLICANTS[0]}0`,
      ),
      400,
    ],
    [request('__proto__ key', `{"__proto__":{"polluted":"yes"},${valid.slice(1)}`), 400],
    [request('__proto__ in the column form', `{"__proto__":[{"polluted":"yes"}]}`), 400],
    [
      request(
        'constructor.prototype',
        `{"constructor":{"prototype":{"polluted":"yes"}},${valid.slice(1)}`,
      ),
      400,
    ],
    [request('10,000 levels of nesting', '['.repeat(10_000) + ']'.repeat(10_000)), 413],
    [request('8,000 levels of nesting', '['.repeat(8_000) + ']'.repeat(8_000)), 400],
    [request('a huge array', `{"zipcode":[${'1,'.repeat(5_000)}1]}`), 400],
    [request('text/plain', valid, 'text/plain'), 415],
    [request('multipart', valid, 'multipart/form-data; boundary=x'), 415],
    [request('no content type', valid, null), 415],
    [request('oversized', `${valid.slice(0, -1)},"pad":"${'x'.repeat(20_000)}"}`), 413],
    [
      {
        ...request(
          'oversized, chunked (no Content-Length)',
          `${valid.slice(0, -1)},"pad":"${'x'.repeat(20_000)}"}`,
        ),
        chunked: true,
      },
      413,
    ],
    [
      request(
        'Content-Length above the limit',
        `${valid.slice(0, -1)},"pad":"${'x'.repeat(16_384)}"}`,
      ),
      413,
    ],
    [request('bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 400],
  ])('$kind → $1', async (hostile, status) => {
    const response = await send(fuzz.app, hostile);
    expect(problemsWith(hostile, response, fuzz.logs)).toEqual([]);
    expect(response.status).toBe(status);
  });
});

// Found by fuzzing: when the column form copied fields with `row[field] = value[0]`, a
// "__proto__" column became the row's PROTOTYPE and zod read the application through it.
it('refuses an application smuggled in as the prototype in the column form', async () => {
  const smuggled = request('smuggled', `{"__proto__":[${valid}]}`);
  const response = await send(fuzz.app, smuggled);
  expect(problemsWith(smuggled, response, fuzz.logs)).toEqual([]);
  expect(response.status).toBe(400);
});

describe('property-based fuzzing (fast-check)', () => {
  it('2,000 generated requests: only JSON 200/400/413/415/422, error codes, no dob_ssn echoed', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (hostile) => {
        const response = await send(fuzz.app, hostile);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const problems = problemsWith(hostile, response, fuzz.logs);
        if (problems.length > 0) throw new Error(problems.join('; '));
      }),
      { numRuns: 2_000 },
    );
    // The generator reaches every outcome, so each property was exercised.
    for (const status of [200, 400, 413, 415, 422])
      expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    expect(crashes).toEqual([]);
    expect(prototypeSnapshot()).toBe(prototypesBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
