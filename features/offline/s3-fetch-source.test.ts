import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startS3rver, uploadFiles, type S3rverHandle } from '../../test/harness/s3rver.js';
import { SourceReadError, TAIL_BYTES, listSourceFiles, openParquetSource } from './byte-range.js';
import { iterateRowGroups, readParquetColumns, type ColumnSpec } from './parquet-table.js';
import { S3FetchSourceReader, parseListPage } from './s3-fetch-source.js';
import { creditHistorySchema, loanTableSchema, zipcodeTableSchema } from './source-schemas.js';

const sampleDir = path.resolve(import.meta.dirname, '../sample');
const samples: [string, readonly ColumnSpec[]][] = [
  ['loan_table.parquet', loanTableSchema],
  ['zipcode_table.parquet', zipcodeTableSchema],
  ['credit_history.parquet', creditHistorySchema],
];

let server: S3rverHandle;
let s3: S3Client;
let reader: S3FetchSourceReader;

beforeAll(async () => {
  server = await startS3rver();
  s3 = server.client();
  reader = new S3FetchSourceReader({
    region: server.region,
    credentials: server.credentials,
    endpoint: server.endpoint,
  });
  await uploadFiles(s3, 'features', {
    ...Object.fromEntries(samples.map(([file]) => [`base/${file}`, path.join(sampleDir, file)])),
    'parts/zipcode_table.parquet/day=2024-01-02.parquet': path.join(
      sampleDir,
      'zipcode_table.parquet',
    ),
    'parts/zipcode_table.parquet/day=2024-01-01 & more.parquet': path.join(
      sampleDir,
      'zipcode_table.parquet',
    ),
    'parts/zipcode_table.parquet/README.txt': new TextEncoder().encode('not parquet'),
    'parts/zipcode_table.parquet/_temporary/day=2024-01-03.parquet': new Uint8Array(1),
    'small/tiny.parquet': new Uint8Array(
      parquetWriteBuffer({ columnData: [{ name: 'id', data: [1n, 2n, 3n], type: 'INT64' }] }),
    ),
  });
});
afterAll(() => server?.stop());
afterEach(() => vi.restoreAllMocks());

/** Every request aws4fetch sends, seen by wrapping the real global fetch (it still goes out). */
function spyOnFetch(): { method: string; url: string; range: string | null }[] {
  const calls: { method: string; url: string; range: string | null }[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const request = new Request(input, init);
    calls.push({ method: request.method, url: request.url, range: request.headers.get('range') });
    return realFetch(request);
  });
  return calls;
}

/** Every GetObject the SDK client sends (a middleware on the real client). */
function spyOnSdkGets(client: S3Client): (string | undefined)[] {
  const ranges: (string | undefined)[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') {
        ranges.push((args.input as { Range?: string }).Range);
      }
      return next(args);
    },
    { step: 'initialize', name: 'getObjectSpy' },
  );
  return ranges;
}

describe('S3FetchSourceReader against s3rver', () => {
  it.each(samples)('reads %s exactly as the SDK reader does', async (file, schema) => {
    const location = `s3://features/base/${file}`;
    const overFetch = await reader.open(location);
    const overSdk = await openParquetSource(location, { s3 });
    expect(overFetch.byteLength).toBe(overSdk.byteLength);
    expect(await readParquetColumns(overFetch, location, schema)).toEqual(
      await readParquetColumns(overSdk, location, schema),
    );
  });

  it('reads one row group with the same ranged GETs as the SDK reader, never the whole object', async () => {
    const location = 's3://features/base/loan_table.parquet';
    const columns = loanTableSchema.filter((c) => c.name === 'loan_id' || c.name === 'loan_status');
    const readGroup1 = async (file: Awaited<ReturnType<typeof reader.open>>) => {
      const ids: number[] = [];
      for await (const group of iterateRowGroups(file, location, columns, {
        skip: ({ rowGroup }) => rowGroup !== 1,
      })) {
        if (!group.skipped) ids.push(group.columns.loan_id[0] as number);
      }
      return ids;
    };

    const calls = spyOnFetch();
    const fetched = await readGroup1(await reader.open(location));
    vi.restoreAllMocks();
    const client = server.client();
    const sdkRanges = spyOnSdkGets(client);
    const viaSdk = await readGroup1(await openParquetSource(location, { s3: client }));

    expect(fetched).toEqual(viaSdk);
    expect(calls.every((c) => c.method === 'GET' && c.range !== null)).toBe(true);
    expect(calls.map((c) => c.range)).toEqual(sdkRanges);
    expect(calls[0].range).toBe(`bytes=-${TAIL_BYTES}`);
    // Path-style on a custom endpoint: the bucket is the first path segment.
    expect(new URL(calls[0].url).pathname).toBe('/features/base/loan_table.parquet');
  });

  it('reads a small object (< 512 KiB) with exactly one GET', async () => {
    const calls = spyOnFetch();
    const location = 's3://features/small/tiny.parquet';
    const file = await reader.open(location);
    const columns = await readParquetColumns(file, location, [{ name: 'id', type: 'int64' }]);
    expect(Array.from(columns.id as Float64Array)).toEqual([1, 2, 3]);
    expect(calls).toHaveLength(1);
  });

  it('lists a folder of partitions like the SDK reader: sorted, .parquet only, keys unescaped', async () => {
    const files = await reader.listFiles('s3://features/parts', 'zipcode_table.parquet');
    expect(files).toEqual([
      's3://features/parts/zipcode_table.parquet/day=2024-01-01 & more.parquet',
      's3://features/parts/zipcode_table.parquet/day=2024-01-02.parquet',
    ]);
    expect(files).toEqual(
      await listSourceFiles('s3://features/parts', 'zipcode_table.parquet', { s3 }),
    );
    // A key needing escapes in the URL and the signature opens and reads.
    const rows = await readParquetColumns(
      await reader.open(files[0]),
      files[0],
      zipcodeTableSchema,
    );
    expect(rows.zipcode.length).toBeGreaterThan(1000);
    expect(await reader.listFiles('s3://features/base/', 'loan_table.parquet')).toEqual([
      's3://features/base/loan_table.parquet',
    ]);
  });

  it.each([
    [
      'a missing object',
      () => reader.open('s3://features/base/nope.parquet'),
      's3://features/base/nope.parquet',
      /not found/,
    ],
    [
      'a missing bucket',
      () => reader.open('s3://no-such-bucket/x.parquet'),
      's3://no-such-bucket/x.parquet',
      /no such bucket|not found/,
    ],
    [
      'a view with neither object nor folder',
      () => reader.listFiles('s3://features/base', 'nothing.parquet'),
      's3://features/base/nothing.parquet',
      /no such object, and no folder/,
    ],
    ['a local path', () => reader.open('/tmp/x.parquet'), '/tmp/x.parquet', /only s3:\/\//],
  ])('names the location of %s in a SourceReadError', async (_, act, location, reason) => {
    const error = await act().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceReadError);
    expect((error as Error).message).toContain(location);
    expect((error as Error).message).toMatch(reason);
  });

  it('fails with the location when the endpoint does not answer', async () => {
    const unreachable = new S3FetchSourceReader({
      region: 'us-east-1',
      credentials: server.credentials,
      endpoint: 'http://127.0.0.1:9', // discard port: connection refused
      retries: 0,
    });
    await expect(unreachable.open('s3://features/base/loan_table.parquet')).rejects.toThrow(
      /s3:\/\/features\/base\/loan_table\.parquet: cannot read object/,
    );
  });
});

describe('the Worker bundle', () => {
  it('carries S3FetchSourceReader without the AWS SDK or Node built-ins', async () => {
    const result = await build({
      stdin: {
        contents: "export { S3FetchSourceReader } from './s3-fetch-source.ts';",
        resolveDir: import.meta.dirname,
        loader: 'ts',
      },
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'browser', // a `node:` import would fail to resolve here
      conditions: ['workerd', 'worker', 'browser'],
      logLevel: 'silent',
    });
    const [output] = Object.values(result.metafile.outputs);
    const bundled = Object.entries(output.inputs)
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([file]) => file);
    expect(bundled.some((file) => file.includes('aws4fetch'))).toBe(true);
    expect(bundled.filter((file) => /@aws-sdk|@smithy|byte-range\.ts/.test(file))).toEqual([]);
  });
});

describe('parseListPage', () => {
  it('reads keys (XML-unescaped) and the continuation token only when truncated', () => {
    const page = (truncated: boolean) => `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>features</Name><Prefix>v</Prefix><KeyCount>2</KeyCount><IsTruncated>${truncated}</IsTruncated>
  <NextContinuationToken>1/a&amp;b==</NextContinuationToken>
  <Contents><Key>v/a&amp;b&#x20;&lt;1&gt;.parquet</Key><Size>10</Size></Contents>
  <Contents><Key>v/b.parquet</Key><ETag>&quot;x&quot;</ETag></Contents>
</ListBucketResult>`;
    expect(parseListPage(page(true))).toEqual({
      keys: ['v/a&b <1>.parquet', 'v/b.parquet'],
      nextContinuationToken: '1/a&b==',
    });
    expect(parseListPage(page(false)).nextContinuationToken).toBeUndefined();
  });
});
