import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { asyncBufferFromFile, type AsyncBuffer } from 'hyparquet';
import {
  SourceReadError,
  TAIL_BYTES,
  checkedLength,
  isDataFile,
  parseS3Location,
  tailCachedBuffer,
  type S3Location,
} from './range-source.js';

/**
 * One byte-range interface over local files and S3 objects: hyparquet's `AsyncBuffer`. Parquet
 * readers above this file never know where the bytes come from.
 */

export type { AsyncBuffer, S3Location };
export { SourceReadError, TAIL_BYTES, parseS3Location };

export interface SourceOptions {
  /** Client for `s3://` locations; a default one (`createS3Client()`) is built when absent. */
  readonly s3?: S3Client;
}

/**
 * Builds an S3 client suited to byte-range reads. Checksums are only computed/validated when the
 * API requires them: ranged GETs cannot be validated against a whole-object checksum, and s3rver
 * corrupts bodies when the SDK's default flexible checksums are on. With a custom endpoint
 * (s3rver, MinIO, R2) path-style addressing is used because those hosts have no per-bucket DNS.
 *
 * @example
 * const s3 = createS3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, region: 'us-east-1' });
 */
export function createS3Client(options: S3ClientConfig = {}): S3Client {
  return new S3Client({
    ...options,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

let defaultS3Client: S3Client | undefined;
function s3ClientFor(options: SourceOptions | undefined): S3Client {
  if (options?.s3) return options.s3;
  defaultS3Client ??= createS3Client();
  return defaultS3Client;
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.code === 'ENOENT' ||
    e?.name === 'NotFound' ||
    e?.name === 'NoSuchKey' ||
    e?.name === 'NoSuchBucket' ||
    e?.$metadata?.httpStatusCode === 404
  );
}

function describe(error: unknown): string {
  if (isNotFound(error)) return 'not found';
  const e = error as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
}

/**
 * Opens a Parquet file or S3 object for byte-range reads. Local paths use hyparquet's own file
 * buffer; `s3://bucket/key` issues one suffix-range GetObject (`Range: bytes=-524288`) that yields
 * both the object size and the footer, then `GetObject Range: bytes=a-b` per slice.
 *
 * Only the file's tail is cached. hyparquet's `cachedAsyncBuffer` keeps every range it ever read,
 * which would hold a whole multi-GB file in memory by the last row group; here memory stays
 * bounded by one row group plus 512 KiB. Small files (< 512 KiB) are therefore read exactly once.
 *
 * @example
 * const file = await openParquetSource('s3://features/credit_history.parquet', { s3 });
 * const footer = await file.slice(file.byteLength - 8);
 */
export async function openParquetSource(
  location: string,
  options?: SourceOptions,
): Promise<AsyncBuffer> {
  const s3Location = parseS3Location(location);
  return s3Location
    ? openS3Object(location, s3Location, s3ClientFor(options))
    : openLocalFile(location);
}

async function openLocalFile(location: string): Promise<AsyncBuffer> {
  let file: AsyncBuffer;
  try {
    file = await asyncBufferFromFile(location);
  } catch (error) {
    throw new SourceReadError(location, `cannot open file (${describe(error)})`, { cause: error });
  }
  return tailCachedBuffer(location, file.byteLength, async (from, to) => {
    try {
      return checkedLength(location, await file.slice(from, to), from, to);
    } catch (error) {
      if (error instanceof SourceReadError) throw error;
      throw new SourceReadError(
        location,
        `cannot read bytes ${from}-${to - 1} (${describe(error)})`,
        {
          cause: error,
        },
      );
    }
  });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

async function getRange(s3: S3Client, bucket: string, key: string, range: string) {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  if (!response.Body) throw new Error('empty response body');
  const bytes = await response.Body.transformToByteArray();
  return { bytes: toArrayBuffer(bytes), contentRange: response.ContentRange };
}

async function openS3Object(
  location: string,
  { bucket, key }: S3Location,
  s3: S3Client,
): Promise<AsyncBuffer> {
  if (!key) throw new SourceReadError(location, 'S3 location has no object key');
  let byteLength: number;
  let tail: ArrayBuffer | undefined;
  try {
    // One request for size and footer; HeadObject + GET would be two round trips per file.
    const first = await getRange(s3, bucket, key, `bytes=-${TAIL_BYTES}`);
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(first.contentRange ?? '');
    if (!range) {
      // No Content-Range: the server ignored the range and sent the whole object.
      byteLength = first.bytes.byteLength;
      tail = first.bytes.slice(Math.max(0, byteLength - TAIL_BYTES));
    } else {
      byteLength = Number(range[3]);
      // Some S3 look-alikes (s3rver) answer a suffix range with the head of the object; then
      // only the size is trusted and the tail is read on first use.
      const isTail =
        Number(range[2]) === byteLength - 1 &&
        first.bytes.byteLength === Math.min(TAIL_BYTES, byteLength);
      tail = isTail ? first.bytes : undefined;
    }
  } catch (error) {
    if ((error as { name?: string }).name !== 'InvalidRange') {
      throw new SourceReadError(location, `cannot read object (${describe(error)})`, {
        cause: error,
      });
    }
    byteLength = 0; // an empty object has no suffix to return
    tail = new ArrayBuffer(0);
  }
  return tailCachedBuffer(
    location,
    byteLength,
    async (from, to) => {
      try {
        return (await getRange(s3, bucket, key, `bytes=${from}-${to - 1}`)).bytes;
      } catch (error) {
        throw new SourceReadError(
          location,
          `cannot read bytes ${from}-${to - 1} (${describe(error)})`,
          { cause: error },
        );
      }
    },
    tail,
  );
}

/** Joins a base (directory or `s3://bucket/prefix`) and a relative name. */
export function joinLocation(base: string, name: string): string {
  if (parseS3Location(base)) return `${base.replace(/\/+$/, '')}/${name}`;
  return path.join(base, name);
}

/**
 * The source files of one view under a base: the file `<name>` itself, or every `.parquet` file
 * in a folder `<name>/` (e.g. daily partitions, nested folders included; `_`/`.`-prefixed paths
 * skipped), sorted so that runs and
 * work units are planned in a stable order.
 *
 * @example
 * await listSourceFiles('../shared/data/feast-credit-scoring', 'credit_history.parquet');
 * // → ['../shared/data/feast-credit-scoring/credit_history.parquet']
 */
export async function listSourceFiles(
  base: string,
  name: string,
  options?: SourceOptions,
): Promise<string[]> {
  const location = joinLocation(base, name);
  const s3Location = parseS3Location(location);
  const files = s3Location
    ? await listS3(location, s3Location, s3ClientFor(options))
    : await listLocal(location);
  if (files.length === 0) {
    throw new SourceReadError(
      location,
      'no such file, and no folder of that name holding .parquet files',
    );
  }
  return files;
}

async function listLocal(location: string): Promise<string[]> {
  let info;
  try {
    info = await stat(location);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw new SourceReadError(location, `cannot stat (${describe(error)})`, { cause: error });
  }
  if (info.isFile()) return [location];
  try {
    const entries = await readdir(location, { recursive: true, withFileTypes: true });
    return entries
      .map((entry) => ({ entry, file: path.join(entry.parentPath, entry.name) }))
      .filter(({ entry, file }) => entry.isFile() && isDataFile(path.relative(location, file)))
      .map(({ file }) => file)
      .sort();
  } catch (error) {
    throw new SourceReadError(location, `cannot list folder (${describe(error)})`, {
      cause: error,
    });
  }
}

async function listS3(
  location: string,
  { bucket, key }: S3Location,
  s3: S3Client,
): Promise<string[]> {
  const prefix = `${key}/`;
  const keys: string[] = [];
  let exactMatch = false;
  try {
    let continuationToken: string | undefined;
    do {
      // Listing by `key` (not `key/`) finds the object itself and the folder in one call.
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: key,
          ContinuationToken: continuationToken,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === key) exactMatch = true;
        else if (object.Key?.startsWith(prefix) && isDataFile(object.Key.slice(prefix.length)))
          keys.push(object.Key);
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  } catch (error) {
    throw new SourceReadError(location, `cannot list objects (${describe(error)})`, {
      cause: error,
    });
  }
  if (exactMatch) return [location];
  return keys.sort().map((k) => `s3://${bucket}/${k}`);
}
