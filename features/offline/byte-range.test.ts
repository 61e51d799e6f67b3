import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { parquetWriteBuffer } from 'hyparquet-writer';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, uploadFiles, type S3rverHandle } from '../../test/harness/s3rver.js';
import {
  SourceReadError,
  TAIL_BYTES,
  listSourceFiles,
  openParquetSource,
  parseS3Location,
} from './byte-range.js';
import {
  iterateRowGroups,
  loanTableSchema,
  readParquetColumns,
  readParquetMetadata,
  zipcodeTableSchema,
} from './parquet-table.js';

const sampleDir = path.resolve(import.meta.dirname, '../sample');
const loanFile = path.join(sampleDir, 'loan_table.parquet');

interface GetCall {
  readonly range: string | undefined;
}

/** Records every GetObject the real client sends (a middleware, not a fake). */
function spyOnGets(s3: S3Client): GetCall[] {
  const calls: GetCall[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') {
        calls.push({ range: (args.input as { Range?: string }).Range });
      }
      return next(args);
    },
    { step: 'initialize', name: 'getObjectSpy' },
  );
  return calls;
}

function writeSmallParquet(): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [{ name: 'id', data: [1n, 2n, 3n], type: 'INT64' as const }],
    }),
  );
}

function rangeBytes(range: string): number {
  const suffix = /^bytes=-(\d+)$/.exec(range);
  if (suffix) return Number(suffix[1]);
  const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(range) ?? [];
  return Number(to) - Number(from) + 1;
}

describe('local files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'byte-range-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads byte ranges of a local file', async () => {
    const file = path.join(dir, 'bytes.bin');
    await writeFile(file, new Uint8Array([80, 65, 82, 49, 1, 2, 3, 80, 65, 82, 49]));
    const source = await openParquetSource(file);
    expect(source.byteLength).toBe(11);
    expect([...new Uint8Array(await source.slice(4, 7))]).toEqual([1, 2, 3]);
  });

  it('names the missing file in a SourceReadError', async () => {
    const missing = path.join(dir, 'nope.parquet');
    const error = await openParquetSource(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceReadError);
    expect((error as Error).message).toContain(missing);
  });

  it('lists a single file, or a folder of partitions sorted', async () => {
    await copyFile(loanFile, path.join(dir, 'loan_table.parquet'));
    expect(await listSourceFiles(dir, 'loan_table.parquet')).toEqual([
      path.join(dir, 'loan_table.parquet'),
    ]);

    const folder = path.join(dir, 'credit_history.parquet');
    await mkdir(path.join(folder, 'date=2026-01-02'), { recursive: true });
    await mkdir(path.join(folder, 'date=2026-01-01'), { recursive: true });
    await writeFile(path.join(folder, 'date=2026-01-02', 'part-0.parquet'), 'x');
    await writeFile(path.join(folder, 'date=2026-01-01', 'part-1.parquet'), 'x');
    await writeFile(path.join(folder, 'date=2026-01-01', 'part-0.parquet'), 'x');
    await writeFile(path.join(folder, '_SUCCESS'), '');
    await mkdir(path.join(folder, '_temporary'), { recursive: true });
    await writeFile(path.join(folder, '_temporary', 'part-9.parquet'), 'x');
    await writeFile(path.join(folder, 'date=2026-01-01', '.part-0.parquet'), 'x');
    expect(await listSourceFiles(dir, 'credit_history.parquet')).toEqual([
      path.join(folder, 'date=2026-01-01', 'part-0.parquet'),
      path.join(folder, 'date=2026-01-01', 'part-1.parquet'),
      path.join(folder, 'date=2026-01-02', 'part-0.parquet'),
    ]);
  });

  it('fails listing a view with neither file nor folder, naming the location', async () => {
    await expect(listSourceFiles(dir, 'zipcode_table.parquet')).rejects.toThrow(
      new RegExp(`${path.join(dir, 'zipcode_table.parquet')}.*no such file`),
    );
  });
});

describe('parseS3Location', () => {
  it.each([
    ['s3://bucket/a/b.parquet', { bucket: 'bucket', key: 'a/b.parquet' }],
    ['s3://bucket', { bucket: 'bucket', key: '' }],
    ['/tmp/x.parquet', null],
  ])('%s', (location, expected) => {
    expect(parseS3Location(location)).toEqual(expected);
  });
});

describe('S3 through s3rver', () => {
  let server: S3rverHandle;
  let s3: S3Client;
  beforeAll(async () => {
    server = await startS3rver();
    s3 = server.client();
    await uploadFiles(s3, 'features', {
      'base/loan_table.parquet': loanFile,
      'base/zipcode_table.parquet/day=2024-01-01.parquet': path.join(
        sampleDir,
        'zipcode_table.parquet',
      ),
      'base/zipcode_table.parquet/day=2023-12-31.parquet': path.join(
        sampleDir,
        'zipcode_table.parquet',
      ),
      'base/zipcode_table.parquet/README.txt': new TextEncoder().encode('not parquet'),
      'base/zipcode_table.parquet/_temporary/day=2024-01-02.parquet': new Uint8Array(1),
    });
  });
  afterAll(() => server?.stop());

  it('reads one row group of two columns with ranged GETs, never the whole object', async () => {
    const client = server.client();
    const gets = spyOnGets(client);
    const location = 's3://features/base/loan_table.parquet';
    const file = await openParquetSource(location, { s3: client });
    const columns = loanTableSchema.filter((c) => c.name === 'loan_id' || c.name === 'loan_status');
    const groups = [];
    for await (const group of iterateRowGroups(file, location, columns, {
      skip: ({ rowGroup }) => rowGroup !== 1,
    })) {
      groups.push(group);
    }
    expect(groups.map((g) => g.skipped ?? false)).toEqual([true, false, true]);
    const read = groups[1];
    if (read.skipped) throw new Error('unreachable');
    expect(read.columns.loan_id[0]).toBe(10_000 + read.rowStart);

    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((g) => g.range !== undefined)).toBe(true);
    expect(gets.every((g) => rangeBytes(g.range!) < file.byteLength)).toBe(true);
    // Two columns of one of three row groups: a small fraction of the object.
    const tailRead = `-${file.byteLength - 1}`;
    const dataReads = gets.filter(
      (g) => !g.range!.startsWith('bytes=-') && !g.range!.endsWith(tailRead),
    );
    const dataBytes = dataReads.reduce((sum, g) => sum + rangeBytes(g.range!), 0);
    expect(dataBytes).toBeLessThan(file.byteLength / 4);
  });

  it('sizes the object and reads the footer in one suffix-range GET; caches nothing else', async () => {
    const client = server.client();
    const gets = spyOnGets(client);
    const location = 's3://features/base/loan_table.parquet';
    const file = await openParquetSource(location, { s3: client });
    expect(gets).toEqual([{ range: `bytes=-${TAIL_BYTES}` }]);
    expect(file.byteLength).toBe((await stat(loanFile)).size);

    const loanIds = loanTableSchema.filter((c) => c.name === 'loan_id');
    await readParquetMetadata(file, location);
    const readGroup0 = async () => {
      const before = gets.length;
      for await (const group of iterateRowGroups(file, location, loanIds, { rowGroupEnd: 1 })) {
        if (!group.skipped) expect(group.columns.loan_id[0]).toBe(10_000);
      }
      return gets.length - before;
    };
    const firstPass = await readGroup0();
    expect(firstPass).toBeGreaterThan(0);
    // Row-group bytes are fetched again (nothing but the tail is kept: memory stays bounded).
    expect(await readGroup0()).toBe(firstPass);
  });

  it('reads a small object (< 512 KiB) with exactly one GET', async () => {
    const client = server.client();
    const small = writeSmallParquet();
    await uploadFiles(client, 'features', { 'small/tiny.parquet': small });
    const gets = spyOnGets(client);
    const location = 's3://features/small/tiny.parquet';
    const file = await openParquetSource(location, { s3: client });
    const columns = await readParquetColumns(file, location, [{ name: 'id', type: 'int64' }]);
    expect(Array.from(columns.id as Float64Array)).toEqual([1, 2, 3]);
    expect(gets).toHaveLength(1);
  });

  it('gives the same rows as the local file', async () => {
    const remote = await readParquetColumns(
      await openParquetSource('s3://features/base/loan_table.parquet', { s3 }),
      's3://features/base/loan_table.parquet',
      loanTableSchema,
    );
    const local = await readParquetColumns(
      await openParquetSource(loanFile),
      loanFile,
      loanTableSchema,
    );
    expect(remote).toEqual(local);
  });

  it('lists a folder of partitions under an S3 prefix, sorted, .parquet only', async () => {
    const files = await listSourceFiles('s3://features/base', 'zipcode_table.parquet', { s3 });
    expect(files).toEqual([
      's3://features/base/zipcode_table.parquet/day=2023-12-31.parquet',
      's3://features/base/zipcode_table.parquet/day=2024-01-01.parquet',
    ]);
    const rows = await readParquetColumns(
      await openParquetSource(files[0], { s3 }),
      files[0],
      zipcodeTableSchema,
    );
    expect(rows.zipcode.length).toBeGreaterThan(20_000);
    expect(await listSourceFiles('s3://features/base/', 'loan_table.parquet', { s3 })).toEqual([
      's3://features/base/loan_table.parquet',
    ]);
  });

  it('names a missing object or bucket in a SourceReadError', async () => {
    for (const location of ['s3://features/base/nope.parquet', 's3://no-such-bucket/x.parquet']) {
      const error = await openParquetSource(location, { s3 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceReadError);
      expect((error as Error).message).toContain(location);
    }
    await expect(
      listSourceFiles('s3://features/base', 'credit_history.parquet', { s3 }),
    ).rejects.toThrow(SourceReadError);
  });
});
