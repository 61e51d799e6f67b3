import type { AsyncBuffer } from 'hyparquet';

/**
 * The transport-free half of byte-range Parquet reading: locations, errors and the tail-cached
 * buffer. Shared by byte-range.ts (local files, S3 through the SDK) and s3-fetch-source.ts (S3
 * over signed fetch, for Workers), and free of Node and SDK imports so a Worker can bundle it.
 */

/** A source file or object could not be listed, sized or read. Names the location only. */
export class SourceReadError extends Error {
  override readonly name = 'SourceReadError';
  constructor(
    readonly location: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${location}: ${message}`, options);
  }
}

export interface S3Location {
  readonly bucket: string;
  /** Object key or prefix, without a leading slash; may be empty for a whole bucket. */
  readonly key: string;
}

/** Parses `s3://bucket/key`; returns null for anything else (a local path). */
export function parseS3Location(location: string): S3Location | null {
  if (!location.startsWith('s3://')) return null;
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (!bucket)
    throw new SourceReadError(location, 'S3 location has no bucket (expected s3://bucket/key)');
  return { bucket, key };
}

/**
 * Bytes kept per open file: the tail that hyparquet reads first (its default initial footer
 * fetch), so the footer, and every slice inside it, costs one read.
 */
export const TAIL_BYTES = 1 << 19;

export type RangeReader = (from: number, to: number) => Promise<ArrayBuffer>;

/** An AsyncBuffer over `read` that serves slices inside the tail from one cached read. */
export function tailCachedBuffer(
  location: string,
  byteLength: number,
  read: RangeReader,
  prefetchedTail?: ArrayBuffer,
): AsyncBuffer {
  const tailStart = Math.max(0, byteLength - TAIL_BYTES);
  let tail: Promise<ArrayBuffer> | undefined = prefetchedTail
    ? Promise.resolve(prefetchedTail)
    : undefined;
  return {
    byteLength,
    async slice(start, end) {
      const from = start < 0 ? Math.max(byteLength + start, 0) : start;
      const to = Math.min(end ?? byteLength, byteLength);
      if (to <= from) return new ArrayBuffer(0);
      if (from >= tailStart) {
        if (!tail) {
          tail = read(tailStart, byteLength);
          // A failed read must not poison the cache for a retry.
          tail.catch(() => (tail = undefined));
        }
        return (await tail).slice(from - tailStart, to - tailStart);
      }
      return checkedLength(location, await read(from, to), from, to);
    },
  };
}

/** A file that shrank after it was sized would otherwise surface as a confusing decode error. */
export function checkedLength(
  location: string,
  buffer: ArrayBuffer,
  from: number,
  to: number,
): ArrayBuffer {
  if (buffer.byteLength !== to - from) {
    throw new SourceReadError(
      location,
      `short read: asked for ${to - from} bytes at offset ${from}, got ${buffer.byteLength}`,
    );
  }
  return buffer;
}

/**
 * A `.parquet` file whose path (relative to the view's folder) has no segment starting with `_`
 * or `.`: Spark/Hive keep in-progress and metadata files there (`_temporary/`, `.part.crc`).
 */
export function isDataFile(relativePath: string): boolean {
  return (
    relativePath.endsWith('.parquet') &&
    relativePath
      .split(/[\\/]/)
      .every((segment) => !segment.startsWith('_') && !segment.startsWith('.'))
  );
}
