/**
 * The two DynamoDB calls the online store makes, behind one small interface, with three
 * implementations:
 * - `SdkDynamoDbApi` over the AWS SDK's DynamoDBClient (dynamodb-sdk-api.ts: credential chain,
 *   SDK retries; the materializer's writes);
 * - `NodeHttpDynamoDbApi` over node:http, signed by @smithy/signature-v4 (dynamodb-node-http.ts:
 *   the serving path on Node and Lambda);
 * - `FetchDynamoDbApi` over `fetch`, signed by aws4fetch, speaking DynamoDB's JSON protocol
 *   (Workers: ~4 KiB gzip, where the SDK client adds ~85 KiB and breaks the 150 KiB budget).
 * Inputs and outputs are the SDK's own types, imported as types only: this module carries no SDK
 * code (dynamodb-api.test.ts guards this for the Worker bundle).
 */
import type {
  BatchGetItemInput,
  BatchGetItemOutput,
  BatchWriteItemInput,
  BatchWriteItemOutput,
} from '@aws-sdk/client-dynamodb';
import { AwsClient } from 'aws4fetch';

export type { BatchGetItemInput, BatchGetItemOutput, BatchWriteItemInput, BatchWriteItemOutput };

export interface DynamoDbApi {
  /** Rejects with DynamoDbApiError when DynamoDB or the network fails. */
  batchGetItem(input: BatchGetItemInput, signal?: AbortSignal): Promise<BatchGetItemOutput>;
  batchWriteItem(input: BatchWriteItemInput, signal?: AbortSignal): Promise<BatchWriteItemOutput>;
  /** Releases what the implementation holds open (kept-alive sockets); optional. */
  destroy?(): void;
}

/**
 * A failed DynamoDB call, the same from both implementations. `code` is DynamoDB's error type
 * (`ResourceNotFoundException`, `ProvisionedThroughputExceededException`, …) or, when no answer
 * came, `NetworkError` / `AbortError` / `InvalidResponse`.
 */
export class DynamoDbApiError extends Error {
  override readonly name = 'DynamoDbApiError';
  constructor(
    readonly operation: string,
    readonly code: string,
    /** DynamoDB's own message: it names tables and conditions, never item keys. */
    readonly awsMessage: string,
    /** HTTP status of DynamoDB's answer; undefined when none came. */
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation} failed: ${code}: ${awsMessage}`, options);
  }
}

export interface FetchDynamoDbApiConfig {
  /** AWS_REGION */
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** AWS_ENDPOINT_URL_DYNAMODB (dynalite, DynamoDB Local); default `https://dynamodb.<region>.amazonaws.com`. */
  readonly endpoint?: string;
  /**
   * aws4fetch's own retries of 5xx/429 answers (backoff from 50 ms); default 0: a read's deadline
   * is a few ms, and the store retries unprocessed keys itself.
   */
  readonly retries?: number;
}

/**
 * Over `fetch` with SigV4 from aws4fetch (a ~3 KB library; hand-signing SigV4 is easy to get
 * subtly wrong). The JSON protocol is the SDK's wire format: POST / with `X-Amz-Target`, the input
 * as JSON, the output as JSON. Binary (`B`) attributes would travel as base64 strings rather than
 * bytes; the online store writes none.
 */
export class FetchDynamoDbApi implements DynamoDbApi {
  readonly endpoint: string;
  readonly #aws: AwsClient;

  constructor(config: FetchDynamoDbApiConfig) {
    this.endpoint = (config.endpoint ?? `https://dynamodb.${config.region}.amazonaws.com`).replace(
      /\/*$/,
      '/',
    );
    this.#aws = new AwsClient({
      ...config.credentials,
      service: 'dynamodb',
      region: config.region,
      retries: config.retries ?? 0,
    });
  }

  batchGetItem(input: BatchGetItemInput, signal?: AbortSignal): Promise<BatchGetItemOutput> {
    return this.#call('BatchGetItem', input, signal);
  }

  batchWriteItem(input: BatchWriteItemInput, signal?: AbortSignal): Promise<BatchWriteItemOutput> {
    return this.#call('BatchWriteItem', input, signal);
  }

  async #call<T>(operation: string, input: unknown, signal: AbortSignal | undefined): Promise<T> {
    let response: Response;
    let text: string;
    try {
      response = await this.#aws.fetch(this.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${operation}`,
        },
        body: JSON.stringify(input),
        signal,
      });
      // Decoded by hand: workerd warns on every text() of an application/x-amz-json-1.0 body.
      text = new TextDecoder().decode(await response.arrayBuffer());
    } catch (error) {
      throw transportError(operation, error, signal);
    }
    return interpretAnswer<T>(operation, response.status, response.statusText, text, (name) =>
      response.headers.get(name),
    );
  }
}

/**
 * A DynamoDB JSON-protocol answer as the output, or the DynamoDbApiError it stands for: shared by
 * the implementations that speak the protocol themselves.
 */
export function interpretAnswer<T>(
  operation: string,
  status: number,
  statusText: string,
  text: string,
  header: (name: string) => string | null | undefined,
): T {
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: a proxy's or load balancer's page, handled below by status.
  }
  if (status < 200 || status > 299) {
    // DynamoDB answers `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
    // "message":"…"}`; some services spell it `Message`, and the header carries the type too.
    const type =
      (typeof body?.__type === 'string' && body.__type) ||
      header('x-amzn-errortype') ||
      `HTTP${status}`;
    const message = body?.message ?? body?.Message ?? statusText;
    throw new DynamoDbApiError(
      operation,
      type.split('#').pop()!.split(':')[0],
      String(message || `HTTP ${status}`),
      status,
    );
  }
  if (body === undefined || typeof body !== 'object' || body === null) {
    throw new DynamoDbApiError(
      operation,
      'InvalidResponse',
      `HTTP ${status} answer is not a JSON object (${text.length} bytes)`,
      status,
    );
  }
  return body as T;
}

/** A call that got no answer: aborted at its deadline, or the network failed. */
export function transportError(
  operation: string,
  error: unknown,
  signal: AbortSignal | undefined,
): DynamoDbApiError {
  const aborted = signal?.aborted || (error as Error).name === 'AbortError';
  return new DynamoDbApiError(
    operation,
    aborted ? 'AbortError' : 'NetworkError',
    describe(error),
    undefined,
    { cause: error },
  );
}

/** What an abandoned call rejects with; its name maps it to the code `AbortError`. */
export function deadlinePassed(): Error {
  return Object.assign(new Error('the deadline passed'), { name: 'AbortError' });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch hides the reason (ECONNREFUSED, …) in `cause`.
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
