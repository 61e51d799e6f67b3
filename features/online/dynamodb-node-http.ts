/**
 * The DynamoDB calls of the online store over node:http(s) with a keep-alive agent, signed by the
 * AWS SDK's own SigV4 signer (@smithy/signature-v4). The credentials and region come either from
 * an SDK client's resolved config, so the standard credential chain (environment, Lambda role,
 * ECS, SSO…) applies, or straight from the environment (`dynamoDbSigningFromEnv`). What it leaves
 * out is the SDK's per-call middleware stack.
 *
 * Why not the SDK's `send()` on the serving path: measured on the benchmark VM, the bundled server
 * spent ~0.9 ms of CPU per BatchGetItem through DynamoDBClient (87 % of a core at ~740 reads/s),
 * which makes the DynamoDB fallback the bottleneck exactly when Redis is down; the JSON protocol
 * itself is one POST. Not in dynamodb-api.ts, which the Worker bundles: node:http is Node's.
 */
import http from 'node:http';
import https from 'node:https';
import type {
  BatchGetItemInput,
  BatchGetItemOutput,
  BatchWriteItemInput,
  BatchWriteItemOutput,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  DynamoDbApiError,
  deadlinePassed,
  interpretAnswer,
  transportError,
  type DynamoDbApi,
} from './dynamodb-api.js';
import { abandonOnAbort } from './store-support.js';

export interface NodeHttpDynamoDbApiOptions {
  /**
   * Endpoint; default AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL (the SDK's own variables),
   * then `https://dynamodb.<region>.amazonaws.com`.
   */
  readonly endpoint?: string;
  /** A request still unanswered after this is destroyed; default 1,000 ms. */
  readonly requestTimeoutMs?: number;
  readonly env?: Record<string, string | undefined>;
}

type SignerInit = ConstructorParameters<typeof SignatureV4>[0];

/** What the calls are signed with: region, credentials and the SigV4 hash. */
export interface DynamoDbSigning {
  readonly region: SignerInit['region'];
  readonly credentials: SignerInit['credentials'];
  /** Default: @smithy/core's Sha256, the one the SDK clients use. */
  readonly sha256?: SignerInit['sha256'];
}

/**
 * Static credentials and a region from the environment, read as the SDK's own chain reads them
 * first (its `fromEnv` provider, then AWS_REGION / AWS_DEFAULT_REGION); undefined when they are
 * not all there, and the caller falls back to an SDK client's chain. Lambda always sets them.
 *
 * Why not an SDK client everywhere: creating a DynamoDBClient loads ~500 KiB of SDK (91–106 ms of
 * import, a bundle of it alone on the bench VM, medians of 9), where the signer and its hash take
 * ~26 ms; on Lambda that was most of the first decision's cold start.
 */
export function dynamoDbSigningFromEnv(
  env: Record<string, string | undefined> = process.env,
): DynamoDbSigning | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!accessKeyId || !secretAccessKey || !region) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  return { region, credentials: { accessKeyId, secretAccessKey, sessionToken } };
}

export class NodeHttpDynamoDbApi implements DynamoDbApi {
  readonly #region: SignerInit['region'];
  readonly #signer: SignatureV4;
  readonly #explicitEndpoint: string | undefined;
  readonly #requestTimeoutMs: number;
  #endpoint: Promise<URL> | undefined;
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  /**
   * `signing`: an SDK client, whose resolved config (credentials, region, hash) the calls are
   * signed with, or the same three given directly (see dynamoDbSigningFromEnv).
   */
  constructor(signing: DynamoDBClient | DynamoDbSigning, options: NodeHttpDynamoDbApiOptions = {}) {
    const { region, credentials, sha256 } = 'config' in signing ? signing.config : signing;
    this.#region = region;
    const env = options.env ?? process.env;
    this.#explicitEndpoint =
      options.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 1_000;
    this.#signer = new SignatureV4({
      service: 'dynamodb',
      region,
      credentials,
      sha256: sha256 ?? Sha256,
    });
  }

  batchGetItem(input: BatchGetItemInput, signal?: AbortSignal): Promise<BatchGetItemOutput> {
    return this.#call('BatchGetItem', input, signal);
  }

  batchWriteItem(input: BatchWriteItemInput, signal?: AbortSignal): Promise<BatchWriteItemOutput> {
    return this.#call('BatchWriteItem', input, signal);
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }

  #resolveEndpoint(): Promise<URL> {
    return (this.#endpoint ??= (async () => {
      if (this.#explicitEndpoint) return new URL(this.#explicitEndpoint);
      const region = typeof this.#region === 'string' ? this.#region : await this.#region();
      return new URL(`https://dynamodb.${region}.amazonaws.com/`);
    })());
  }

  /**
   * Like SdkDynamoDbApi, an abort abandons the request instead of destroying it: its keep-alive
   * socket survives (against DynamoDB a new one costs a TLS handshake longer than a deadline);
   * the request timeout bounds what is left running.
   */
  async #call<T>(operation: string, input: unknown, signal: AbortSignal | undefined): Promise<T> {
    try {
      signal?.throwIfAborted();
      return await abandonOnAbort(this.#post<T>(operation, input), signal, deadlinePassed);
    } catch (error) {
      if (error instanceof DynamoDbApiError) throw error;
      throw transportError(operation, error, signal);
    }
  }

  async #post<T>(operation: string, input: unknown): Promise<T> {
    const endpoint = await this.#resolveEndpoint();
    const body = JSON.stringify(input);
    const signed = await this.#signer.sign({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : undefined,
      path: endpoint.pathname,
      query: {},
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
      },
      body,
    });
    const transport = endpoint.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const request = transport.request(
        {
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          port: endpoint.port || undefined,
          path: endpoint.pathname,
          method: 'POST',
          headers: signed.headers,
          agent: this.#agents[endpoint.protocol as 'http:' | 'https:'],
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            try {
              resolve(
                interpretAnswer<T>(
                  operation,
                  response.statusCode ?? 0,
                  response.statusMessage ?? '',
                  Buffer.concat(chunks).toString('utf8'),
                  (name) => {
                    const value = response.headers[name];
                    return Array.isArray(value) ? value[0] : value;
                  },
                ),
              );
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      request.setTimeout(this.#requestTimeoutMs, () =>
        request.destroy(new Error(`no answer within ${this.#requestTimeoutMs} ms`)),
      );
      request.on('error', reject);
      request.end(body);
    });
  }
}
