import type { S3Client } from '@aws-sdk/client-s3';
import { listSourceFiles, openParquetSource, type AsyncBuffer } from '../offline/byte-range.js';

/**
 * What materialization needs from the offline side: find a view's files and open one for
 * byte-range reads. An interface (not direct calls) so tests can count reads by wrapping the real
 * reader, and so a Worker can pass an R2/S3 client of its own.
 */
export interface ParquetSourceReader {
  /** `<base>/<name>` itself, or every .parquet file in the folder `<base>/<name>/`, sorted. */
  listFiles(base: string, name: string): Promise<string[]>;
  open(location: string): Promise<AsyncBuffer>;
}

/**
 * @example
 * const reader = parquetSourceReader({ s3: createS3Client({ region: 'us-east-1' }) });
 */
export function parquetSourceReader(options: { s3?: S3Client } = {}): ParquetSourceReader {
  return {
    listFiles: (base, name) => listSourceFiles(base, name, options),
    open: (location) => openParquetSource(location, options),
  };
}
