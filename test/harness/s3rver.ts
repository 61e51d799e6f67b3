/**
 * A real S3 API (s3rver) in-process for tests: silent, on a free port, storing objects in a fresh
 * temp directory that `stop()` removes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';
import { createS3Client } from '../../features/offline/byte-range.js';

export interface S3rverHandle {
  /** http://127.0.0.1:PORT — pass as `endpoint` (or AWS_ENDPOINT_URL_S3). */
  readonly endpoint: string;
  readonly region: string;
  /** s3rver's fixed development credentials. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client for this server, built with the project's `createS3Client` settings. */
  client(): S3Client;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<S3rverHandle> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    region,
    credentials,
    client: () => createS3Client({ endpoint, region, credentials }),
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Creates the bucket if needed (s3rver answers an existing one with an error we ignore). */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}

/** Uploads local files (or raw bytes) into a bucket; returns their `s3://bucket/key` locations. */
export async function uploadFiles(
  s3: S3Client,
  bucket: string,
  files: Record<string, string | Uint8Array>,
): Promise<string[]> {
  await ensureBucket(s3, bucket);
  const locations: string[] = [];
  for (const [key, source] of Object.entries(files)) {
    const body = typeof source === 'string' ? await readFile(source) : source;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    locations.push(`s3://${bucket}/${key}`);
  }
  return locations;
}
