/**
 * The DynamoDB online store as Node and Lambda build it: `DynamoDbApiStore` over the AWS SDK
 * client (standard credential chain, region and `AWS_ENDPOINT_URL_DYNAMODB` from the environment).
 * The Worker builds `DynamoDbApiStore` over `FetchDynamoDbApi` instead, keeping the SDK out of its
 * bundle.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbApiStore, type DynamoDbApiStoreConfig } from './dynamodb-api-store.js';
import type { DynamoDbApi } from './dynamodb-api.js';
import { SdkDynamoDbApi } from './dynamodb-sdk-api.js';
import { NodeHttpDynamoDbApi } from './dynamodb-node-http.js';
import { DYNAMODB_PARTITION_KEY } from './key-layout.js';

export { DynamoDbApiStore, type DynamoDbApiStoreConfig } from './dynamodb-api-store.js';

export interface DynamoDbStoreConfig extends Omit<DynamoDbApiStoreConfig, 'api'> {
  /** Any DynamoDbApi (e.g. FetchDynamoDbApi); when set, `client` and `clientConfig` are ignored. */
  readonly api?: DynamoDbApi;
  /** An existing client (shared, or wrapped by tests); otherwise one is built from clientConfig. */
  readonly client?: DynamoDBClient;
  /** Region, endpoint (AWS_ENDPOINT_URL_DYNAMODB for local), credentials. */
  readonly clientConfig?: DynamoDBClientConfig;
  /**
   * How calls travel: 'sdk' (default) through the client's send(); 'node-http' signed with the
   * client's resolved credentials and region but sent over node:http (dynamodb-node-http.ts:
   * ~2.4× less CPU per call, measured; what the serving runtimes use). With 'node-http' the
   * endpoint comes from `clientConfig.endpoint` or AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL,
   * not from a `client` passed in.
   */
  readonly transport?: 'sdk' | 'node-http';
}

export class DynamoDbStore extends DynamoDbApiStore {
  /** The SDK client behind the store; undefined when built over another DynamoDbApi. */
  readonly client: DynamoDBClient | undefined;
  readonly #ownsClient: boolean;

  constructor(config: DynamoDbStoreConfig) {
    const client = config.api
      ? undefined
      : (config.client ??
        new DynamoDBClient({
          // Bounds the reads abandoned at their deadline (they are raced, not aborted). Without
          // throwOnRequestTimeout, @smithy/node-http-handler only logs a warning at the timeout
          // and keeps the request open.
          requestHandler: {
            requestTimeout: 1_000,
            connectionTimeout: 1_000,
            throwOnRequestTimeout: true,
          },
          ...config.clientConfig,
        }));
    const api =
      config.api ??
      (config.transport === 'node-http'
        ? new NodeHttpDynamoDbApi(client!, { endpoint: endpointOf(config.clientConfig) })
        : new SdkDynamoDbApi(client!));
    super({ ...config, api });
    this.client = client;
    this.#ownsClient = !config.api && !config.client;
  }

  /** Creates the table (pk string, on demand) if missing and waits until it is active. */
  createTable(): Promise<void> {
    if (!this.client) {
      throw new Error(`createTable needs an SDK client; table "${this.tableName}" has none`);
    }
    return createDynamoDbTable(this.client, this.tableName);
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.#ownsClient) this.client?.destroy();
  }
}

/** A plain endpoint string of an SDK config, when one was given that way. */
function endpointOf(config: DynamoDBClientConfig | undefined): string | undefined {
  const endpoint = config?.endpoint;
  if (endpoint === undefined || typeof endpoint === 'string') return endpoint;
  throw new Error("transport 'node-http' takes the endpoint as a URL string");
}

/** Creates the online table (pk string, PAY_PER_REQUEST) if missing; waits until ACTIVE. */
export async function createDynamoDbTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: DYNAMODB_PARTITION_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: DYNAMODB_PARTITION_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  for (let i = 0; i < 600; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DynamoDB table "${tableName}" did not become ACTIVE within 60 s`);
}
