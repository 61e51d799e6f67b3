import { AwsClient } from 'aws4fetch';
import type { AsyncBuffer } from 'hyparquet';
// Not byte-range.ts: it imports node:fs, the AWS SDK and hyparquet's Node-only file reader.
import {
  SourceReadError,
  TAIL_BYTES,
  isDataFile,
  parseS3Location,
  tailCachedBuffer,
  type S3Location,
} from './range-source.js';

/**
 * Parquet sources on S3 (or R2, MinIO, s3rver) read over `fetch` signed by aws4fetch, for
 * Workers: `@aws-sdk/client-s3` adds ~100 KiB gzip and would break the 150 KiB bundle budget.
 * It fits materialize's ParquetSourceReader (structurally: offline/ does not import materialize/).
 * Same reads as byte-range.ts's SDK path (one suffix-range GET for size and footer, then one
 * ranged GET per slice, only the tail cached), so both readers cost the same round trips.
 */

export interface S3FetchSourceConfig {
  /** AWS_REGION; `auto` for R2. */
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /**
   * AWS_ENDPOINT_URL_S3 (R2: `https://<account>.r2.cloudflarestorage.com`, s3rver, MinIO). When
   * set, buckets are addressed path-style: those hosts have no per-bucket DNS names.
   */
  readonly endpoint?: string;
  /** aws4fetch's own retries of 5xx/429 answers; default 2 (the queue retries the unit after that). */
  readonly retries?: number;
}

/**
 * @example
 * const reader = new S3FetchSourceReader({ region: 'auto', endpoint: env.AWS_ENDPOINT_URL_S3,
 *   credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
 * const files = await reader.listFiles('s3://features/base', 'credit_history.parquet');
 * const file = await reader.open(files[0]);
 */
export class S3FetchSourceReader {
  readonly #aws: AwsClient;
  readonly #endpoint: string | undefined;
  readonly #region: string;

  constructor(config: S3FetchSourceConfig) {
    this.#endpoint = config.endpoint?.replace(/\/+$/, '');
    this.#region = config.region;
    this.#aws = new AwsClient({
      ...config.credentials,
      service: 's3',
      region: config.region,
      retries: config.retries ?? 2,
    });
  }

  async listFiles(base: string, name: string): Promise<string[]> {
    const location = `${base.replace(/\/+$/, '')}/${name}`;
    const { bucket, key } = this.#parse(location);
    const prefix = `${key}/`;
    const keys: string[] = [];
    let exactMatch = false;
    let continuationToken: string | undefined;
    do {
      // Listing by `key` (not `key/`) finds the object itself and the folder in one call.
      const query = new URLSearchParams({ 'list-type': '2', prefix: key });
      if (continuationToken) query.set('continuation-token', continuationToken);
      const response = await this.#send(location, 'cannot list objects', {
        url: `${this.#bucketUrl(bucket)}?${query}`,
      });
      const page = parseListPage(await response.text());
      for (const objectKey of page.keys) {
        if (objectKey === key) exactMatch = true;
        else if (objectKey.startsWith(prefix) && isDataFile(objectKey.slice(prefix.length)))
          keys.push(objectKey);
      }
      continuationToken = page.nextContinuationToken;
    } while (continuationToken);
    if (exactMatch) return [location];
    if (keys.length === 0) {
      throw new SourceReadError(
        location,
        'no such object, and no folder of that name holding .parquet objects',
      );
    }
    return keys.sort().map((k) => `s3://${bucket}/${k}`);
  }

  async open(location: string): Promise<AsyncBuffer> {
    const { bucket, key } = this.#parse(location);
    if (!key) throw new SourceReadError(location, 'S3 location has no object key');
    const url = `${this.#bucketUrl(bucket)}/${encodeKey(key)}`;
    const read = async (from: number, to: number) => {
      const response = await this.#send(location, `cannot read bytes ${from}-${to - 1}`, {
        url,
        range: `bytes=${from}-${to - 1}`,
      });
      const bytes = await response.arrayBuffer();
      // A server that ignores Range sends the whole object (200): cut the asked-for part out.
      return response.status === 200 ? bytes.slice(from, to) : bytes;
    };

    // One request for size and footer; HEAD + GET would be two round trips per file.
    const first = await this.#send(location, 'cannot read object', {
      url,
      range: `bytes=-${TAIL_BYTES}`,
      emptyObjectOk: true,
    });
    if (first.status === 416) return tailCachedBuffer(location, 0, read, new ArrayBuffer(0));
    const bytes = await first.arrayBuffer();
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(first.headers.get('content-range') ?? '');
    if (first.status === 200 || !range) {
      // No Content-Range: the server ignored the range and sent the whole object.
      const byteLength = bytes.byteLength;
      return tailCachedBuffer(
        location,
        byteLength,
        read,
        bytes.slice(Math.max(0, byteLength - TAIL_BYTES)),
      );
    }
    const byteLength = Number(range[3]);
    // s3rver answers a suffix range with the HEAD of the object (Content-Range `bytes 0-…`);
    // then only the size is trusted and the tail is read on first use.
    const isTail =
      Number(range[2]) === byteLength - 1 && bytes.byteLength === Math.min(TAIL_BYTES, byteLength);
    return tailCachedBuffer(location, byteLength, read, isTail ? bytes : undefined);
  }

  #parse(location: string): S3Location {
    const parsed = parseS3Location(location);
    if (!parsed) {
      throw new SourceReadError(
        location,
        'only s3:// locations can be read over fetch (no filesystem here)',
      );
    }
    return parsed;
  }

  #bucketUrl(bucket: string): string {
    if (this.#endpoint) return `${this.#endpoint}/${encodeURIComponent(bucket)}`;
    // Dotted bucket names do not match the *.s3 wildcard certificate: path-style for those.
    return bucket.includes('.')
      ? `https://s3.${this.#region}.amazonaws.com/${bucket}`
      : `https://${bucket}.s3.${this.#region}.amazonaws.com`;
  }

  /** One signed GET; any answer but 2xx (and 416 when asked) becomes a SourceReadError. */
  async #send(
    location: string,
    what: string,
    request: { url: string; range?: string; emptyObjectOk?: boolean },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await this.#aws.fetch(request.url, {
        method: 'GET',
        headers: request.range ? { range: request.range } : {},
      });
    } catch (error) {
      throw new SourceReadError(location, `${what} (${describeNetworkError(error)})`, {
        cause: error,
      });
    }
    if (response.ok || (response.status === 416 && request.emptyObjectOk)) return response;
    // S3's XML error names a code (NoSuchKey, AccessDenied, …); nothing else of the body is
    // repeated, so object contents can never reach a message.
    const body = await response.text().catch(() => '');
    const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
    const reason =
      response.status === 404 ? 'not found' : `HTTP ${response.status}${code ? ` ${code}` : ''}`;
    throw new SourceReadError(
      location,
      `${what} (${code === 'NoSuchBucket' ? 'no such bucket' : reason})`,
    );
  }
}

/** Path segments encoded as aws4fetch signs them (RFC 3986), `/` kept. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');
}

/**
 * The three fields of a ListObjectsV2 answer that listing needs. Hand-read because Workers have no
 * DOMParser and an XML library would cost bundle size for a fixed, flat document; S3 escapes `<`
 * and `&` inside values, so no value can contain a tag.
 */
export function parseListPage(xml: string): { keys: string[]; nextContinuationToken?: string } {
  const keys = [
    ...xml.matchAll(/<Contents>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Contents>/g),
  ].map((match) => unescapeXml(match[1]));
  const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
  const token = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1];
  return { keys, nextContinuationToken: truncated && token ? unescapeXml(token) : undefined };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
    if (name[0] !== '#') return XML_ENTITIES[name] ?? entity;
    const code =
      name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return String.fromCodePoint(code);
  });
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch hides the reason (ECONNREFUSED, …) in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
