import fc from 'fast-check';
import { EmbeddedStore } from '../../features/online/embedded.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../fixtures/applicant.js';
import { appUnderTest } from './app-under-test.js';

/**
 * Hostile POST /loan-decision requests for the fuzz test (`npm test`, a sample) and the fuzz
 * script (`npm run fuzz`, ≥ 100,000 cases), and the properties every answer must keep. Bodies are
 * built as TEXT, not through JSON.stringify, so they can carry what JSON.stringify never writes:
 * numbers beyond 2^53 and 1e308, duplicate keys, `__proto__` keys, unbalanced brackets.
 */

/** Applicants stored in the fuzz app's embedded store (valid requests for them get a 200). */
export const KNOWN_APPLICANTS = ['19410307_5501', '19550505_5502', '19991231_5503'];
/** Well-formed but not stored: 422. */
export const UNKNOWN_APPLICANTS = ['19620815_5504', '20000229_5505', '19860229_5506'];

export const ALLOWED_STATUSES = new Set([200, 400, 413, 415, 422]);

export interface HostileRequest {
  readonly kind: string;
  /** Default `/loan-decision`; `/loan-decisions` is the batch endpoint. */
  readonly path?: '/loan-decision' | '/loan-decisions';
  /** undefined: no Content-Type header at all. */
  readonly contentType: string | undefined;
  readonly body: string | Uint8Array<ArrayBuffer>;
  /**
   * Sent without Content-Length, as a chunked upload arrives: the body-size limit must then count
   * the bytes itself. (app.request() never adds the header; `send` does unless this is set.)
   */
  readonly chunked?: boolean;
  /** The dob_ssn values the body carries, when distinctive (the PII probe). */
  readonly dobSsns?: readonly string[];
}

// --- values -------------------------------------------------------------------------------

const json = (value: unknown) => JSON.stringify(value);

const hugeNumbers = fc.constantFrom(
  '1e308',
  '-1e308',
  '1e309',
  '-1e309',
  '-0',
  '0',
  '0.0',
  '-0.0',
  '1e-400',
  '4.9e-324',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '99999',
  '100000',
  '-1',
  '2147483648',
  '18446744073709551616',
  '1.7976931348623157e308',
  // Not JSON at all: must be malformed_json, never a crash.
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '01',
  '+1',
  '.5',
  '1.',
  '1e',
);

const trickyStrings = fc.constantFrom(
  'NaN',
  'Infinity',
  '-Infinity',
  '1e308',
  '9007199254740993',
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e',
  '\ufeff',
  '𝟗𝟗𝟗𝟗𝟗',
  '７６１０４',
  '٧٦١٠٤',
  'RENT\u0000',
  'PERSONAL ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'true',
  '07675',
  '76104',
  '-76104',
  '76104.0',
  ' 76104',
  'x'.repeat(65),
  '<script>alert(1)</script>',
  "'; DROP TABLE applicants; --",
  '${7*7}',
  '%s%s%s',
  '../../etc/passwd',
);

/** Any JSON text a field might receive instead of its proper value. */
const wrongValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: hugeNumbers },
  { weight: 6, arbitrary: trickyStrings.map(json) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(json) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(json) },
  {
    weight: 3,
    arbitrary: fc.double().map((d) => (Number.isFinite(d) ? String(d) : json(String(d)))),
  },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('null', 'true', 'false', '[]', '{}', '[null]', '[[]]', '{"a":1}'),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 2, max: 6_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 3_000 }).map((n) => `[${'1,'.repeat(n)}1]`) },
);

const dobSsnValue: fc.Arbitrary<{ text: string; marker?: string }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...KNOWN_APPLICANTS).map((v) => ({ text: json(v), marker: v })),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...UNKNOWN_APPLICANTS).map((v) => ({ text: json(v), marker: v })),
  },
  {
    // Near misses of a real key: every one must be refused without being echoed.
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...KNOWN_APPLICANTS),
        fc.constantFrom(
          (v: string) => v.replace('_', '-'),
          (v: string) => v.replace('_', ''),
          (v: string) => `${v}0`,
          (v: string) => ` ${v}`,
          (v: string) => `${v}\n`,
          (v: string) => v.slice(1),
          (v: string) => v.replace(/^(\d{4})\d\d/, '$113'),
          (v: string) => `${v}\u0000`,
          (v: string) => v.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))),
          (v: string) => `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}`,
        ),
      )
      .map(([v, mutate]) => {
        const marker = mutate(v);
        return { text: json(marker), marker };
      }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...KNOWN_APPLICANTS).map((v) => ({ text: v.replace('_', '') })),
  },
  { weight: 4, arbitrary: wrongValue.map((text) => ({ text })) },
);

// --- bodies ---------------------------------------------------------------------------------

const FIELDS = Object.keys(applicationFor(KNOWN_APPLICANTS[0])) as (keyof ReturnType<
  typeof applicationFor
>)[];
const EXTRA_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'loan_amount',
  'polluted',
  '',
  ' zipcode',
  'ZIPCODE',
  'zipcode\u0000',
];
const POLLUTERS = [
  '{"polluted":"yes"}',
  '{"prototype":{"polluted":"yes"}}',
  '[{"polluted":"yes"}]',
  '{"toString":1}',
];

/** A field's JSON text in the column form: usually `[v]`, sometimes a wrong shape. */
const columnWrap = fc.constantFrom(
  (v: string) => `[${v}]`,
  (v: string) => `[${v}]`,
  (v: string) => `[${v}]`,
  (v: string) => `[${v}]`,
  (v: string) => `[${v},${v}]`,
  () => '[]',
  (v: string) => `[[${v}]]`,
  (v: string) => v,
);

const application: fc.Arbitrary<HostileRequest> = fc
  .record({
    dobSsn: dobSsnValue,
    fields: fc.tuple(
      ...FIELDS.map((field) =>
        fc.record({
          present: fc.oneof(
            { weight: 9, arbitrary: fc.constant(true) },
            { weight: 1, arbitrary: fc.constant(false) },
          ),
          value: fc.oneof(
            { weight: 8, arbitrary: fc.constant(json(applicationFor(KNOWN_APPLICANTS[0])[field])) },
            { weight: 2, arbitrary: wrongValue },
          ),
        }),
      ),
    ),
    extras: fc.array(
      fc.tuple(fc.constantFrom(...EXTRA_KEYS), fc.oneof(fc.constantFrom(...POLLUTERS), wrongValue)),
      { maxLength: 3 },
    ),
    columnForm: fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: columnWrap },
    ),
    duplicateDob: fc.boolean(),
  })
  .map(({ dobSsn, fields, extras, columnForm, duplicateDob }) => {
    const wrap = columnForm ?? ((v: string) => v);
    const members: string[] = [];
    FIELDS.forEach((field, i) => {
      if (!fields[i].present) return;
      const value = field === 'dob_ssn' ? dobSsn.text : fields[i].value;
      members.push(`${json(field)}:${wrap(value)}`);
    });
    for (const [key, value] of extras) members.push(`${json(key)}:${wrap(value)}`);
    // JSON.parse keeps the last duplicate: an invalid dob_ssn first must not leak either.
    if (duplicateDob) members.unshift(`"dob_ssn":${wrap(json(`${KNOWN_APPLICANTS[1]}x`))}`);
    return {
      kind: columnForm ? 'application (column form)' : 'application',
      contentType: 'application/json',
      body: `{${members.join(',')}}`,
      dobSsns: dobSsn.marker === undefined ? [] : [dobSsn.marker],
    };
  });

const validApplication = fc
  .constantFrom(...KNOWN_APPLICANTS)
  .map((dobSsn) => applicationFor(dobSsn));

const prototypeAttack: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    validApplication,
    fc.constantFrom(...POLLUTERS),
    fc.constantFrom('__proto__', 'constructor', 'prototype'),
    fc.boolean(),
  )
  .map(([app, polluter, key, columnForm]) => {
    const fields = Object.entries(app).map(
      ([k, v]) => `${json(k)}:${columnForm ? `[${json(v)}]` : json(v)}`,
    );
    const attack = columnForm ? `${json(key)}:[${polluter}]` : `${json(key)}:${polluter}`;
    return {
      kind: 'prototype keys',
      contentType: 'application/json',
      body: `{${attack},${fields.join(',')}}`,
      dobSsns: [app.dob_ssn],
    };
  });

const notAnObject: fc.Arbitrary<HostileRequest> = fc
  .oneof(
    wrongValue,
    fc.integer({ min: 1_000, max: 12_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    fc.integer({ min: 5_000, max: 10_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 100, max: 10_000 }).map((n) => `[${'{},'.repeat(n)}{}]`),
  )
  .map((body) => ({ kind: 'not an object', contentType: 'application/json', body }));

const rawBytes: fc.Arbitrary<HostileRequest> = fc
  .oneof(
    fc.uint8Array({ maxLength: 2_000 }),
    // Valid JSON cut short, or with bytes that are not UTF-8 spliced in.
    fc
      .tuple(
        validApplication,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.boolean(),
      )
      .map(([app, at, junk, truncate]) => {
        const bytes = new TextEncoder().encode(json(app));
        const cut = at % bytes.length;
        if (truncate) return bytes.slice(0, cut);
        const invalid = junk.map((b) => 0x80 | (b & 0x3f)); // continuation bytes with no lead byte
        return new Uint8Array([...bytes.slice(0, cut), ...invalid, ...bytes.slice(cut)]);
      }),
    validApplication.map(
      (app) => new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(json(app))]),
    ),
  )
  .map((body) => ({ kind: 'raw bytes', contentType: 'application/json', body }));

const oversized: fc.Arbitrary<HostileRequest> = fc
  .tuple(validApplication, fc.integer({ min: 16 * 1024, max: 300_000 }))
  .map(([app, size]) => {
    const base = json(app);
    return {
      kind: 'oversized',
      contentType: 'application/json',
      body: `${base.slice(0, -1)},"padding":"${'x'.repeat(Math.max(0, size - base.length))}"}`,
      dobSsns: [app.dob_ssn],
    };
  });

const WRONG_CONTENT_TYPES = [
  undefined,
  'text/plain',
  'multipart/form-data; boundary=----x',
  'application/x-www-form-urlencoded',
  'application/xml',
  'application/jsonx',
  'json',
  '',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/json;;',
  '*/*',
  'application/octet-stream',
];

const singleBody = fc.oneof(
  { weight: 50, arbitrary: application },
  { weight: 8, arbitrary: prototypeAttack },
  { weight: 8, arbitrary: notAnObject },
  { weight: 8, arbitrary: rawBytes },
  { weight: 2, arbitrary: oversized },
);

/** POST /loan-decisions: `{"applications": [...]}` of hostile items, or a wrong envelope. */
const batch: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    fc.array(
      fc.oneof({ weight: 4, arbitrary: application }, { weight: 1, arbitrary: prototypeAttack }),
      { maxLength: 6 },
    ),
    fc.constantFrom(
      (items: string) => `{"applications":[${items}]}`,
      (items: string) => `{"applications":[${items}]}`,
      (items: string) => `{"applications":[${items}]}`,
      (items: string) => `{"applications":[${items}],"applications":{}}`,
      (items: string) => `[${items}]`,
      (items: string) => `{"applications":[${items}],"__proto__":{"polluted":"yes"}}`,
      () => `{"applications":[${Array(101).fill('{}').join(',')}]}`,
      () => '{"applications":null}',
      () => '{"__proto__":{"applications":[{}]}}',
    ),
  )
  .map(([items, envelope]) => ({
    kind: 'batch',
    path: '/loan-decisions' as const,
    contentType: 'application/json',
    body: envelope(items.map((item) => item.body as string).join(',')),
    dobSsns: items.flatMap((item) => item.dobSsns ?? []),
  }));

/** Any request, with (mostly) the right content type or a wrong one. */
export const hostileRequest: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: singleBody }, { weight: 1, arbitrary: batch }),
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom(...WRONG_CONTENT_TYPES) },
    ),
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
  )
  .map(([request, contentType, chunked]) => ({
    ...request,
    chunked,
    ...(contentType === null
      ? {}
      : { kind: `${request.kind}, content-type ${String(contentType)}`, contentType }),
  }));

// --- the app and the properties -------------------------------------------------------------

/** The real app over an embedded store holding the known applicants; every log line captured. */
export async function fuzzApp() {
  const store = new EmbeddedStore();
  await store.write([zipcodeRecord(), ...KNOWN_APPLICANTS.map((dobSsn) => creditRecord(dobSsn))]);
  return appUnderTest(store);
}

export type FuzzApp = Awaited<ReturnType<typeof fuzzApp>>;

/**
 * Posts the request through `app.request()`. `forceContentLength` sends the header even for
 * requests generated as chunked: see scripts/fuzz.ts on why the heap measurement needs it.
 */
export async function send(
  app: FuzzApp['app'],
  request: HostileRequest,
  options: { forceContentLength?: boolean } = {},
) {
  const headers: Record<string, string> = {};
  // Bytes, so the Request constructor adds no `text/plain` type of its own, and the length is exact.
  const body =
    typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  if (!request.chunked || options.forceContentLength)
    headers['content-length'] = String(body.byteLength);
  const response = await app.request(request.path ?? '/loan-decision', {
    method: 'POST',
    headers,
    body,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

/** Every broken promise about one answer (empty: all kept). Reads and clears the logs. */
export function problemsWith(
  request: HostileRequest,
  response: Awaited<ReturnType<typeof send>>,
  logs: string[],
): string[] {
  const problems: string[] = [];
  if (!ALLOWED_STATUSES.has(response.status)) problems.push(`status ${response.status}`);
  if (!response.contentType?.startsWith('application/json')) {
    problems.push(`content-type ${response.contentType}`);
  }
  let body: Answer | undefined;
  try {
    body = JSON.parse(response.text);
  } catch {
    problems.push('body is not JSON');
  }
  if (body && response.status === 200 && request.path === '/loan-decisions') {
    if (!Array.isArray(body.results)) problems.push('batch 200 without results');
    for (const item of body.results ?? [])
      problems.push(...answerProblems(item, item.status, 'item '));
  } else if (body) {
    problems.push(...answerProblems(body, response.status, ''));
  }
  const logText = logs.join('\n');
  logs.length = 0;
  // The request's own dob_ssn (however mangled), and every fuzz applicant's in any case.
  const markers = [...KNOWN_APPLICANTS, ...UNKNOWN_APPLICANTS];
  for (const dobSsn of request.dobSsns ?? []) if (dobSsn.length >= 8) markers.push(dobSsn);
  for (const marker of markers) {
    const escaped = json(marker).slice(1, -1);
    for (const [where, text] of [
      ['response', response.text],
      ['logs', logText],
    ] as const) {
      if (text.includes(marker) || text.includes(escaped))
        problems.push(`dob_ssn echoed in ${where}`);
    }
  }
  return problems;
}

interface Answer {
  readonly status?: number;
  readonly decision?: unknown;
  readonly error?: { readonly code?: unknown };
  readonly results?: readonly Answer[];
}

function answerProblems(answer: Answer, status: number | undefined, what: string): string[] {
  if (status === 200) {
    return ['approved', 'rejected'].includes(String(answer.decision))
      ? []
      : [`${what}200 without a decision`];
  }
  const problems = [];
  if (status === undefined || !ALLOWED_STATUSES.has(status))
    problems.push(`${what}status ${status}`);
  if (!(typeof answer.error?.code === 'string' && answer.error.code))
    problems.push(`${what}error without error.code`);
  return problems;
}

/** Own properties of the built-in prototypes, to prove nothing was added to them. */
export function prototypeSnapshot(): string {
  return [Object.prototype, Array.prototype, Function.prototype]
    .map((proto) => Reflect.ownKeys(proto).map(String).sort().join(','))
    .join('|');
}
