import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type BatchGetItemInput,
  type BatchGetItemOutput,
  type BatchWriteItemInput,
  type BatchWriteItemOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbApiError, deadlinePassed, type DynamoDbApi } from './dynamodb-api.js';
import { abandonOnAbort } from './store-support.js';

/**
 * Over the AWS SDK client (credential chain, SDK retries): the materializer's writes, table
 * setup and tests. The serving path reads through NodeHttpDynamoDbApi (dynamodb-node-http.ts).
 */
export class SdkDynamoDbApi implements DynamoDbApi {
  constructor(readonly client: DynamoDBClient) {}

  batchGetItem(input: BatchGetItemInput, signal?: AbortSignal): Promise<BatchGetItemOutput> {
    return this.#send('BatchGetItem', new BatchGetItemCommand(input), signal);
  }

  batchWriteItem(input: BatchWriteItemInput, signal?: AbortSignal): Promise<BatchWriteItemOutput> {
    return this.#send('BatchWriteItem', new BatchWriteItemCommand(input), signal);
  }

  /**
   * The deadline is NOT passed to the SDK: aborting a request destroys its keep-alive socket, and
   * against DynamoDB every new socket costs a TLS handshake longer than the read deadline itself,
   * so one slow read would make the next ones slow too (measured: 50 aborted reads, 49 new
   * connections). The store races the deadline instead; the abandoned request finishes in the
   * background, bounded by the client's requestTimeout (see dynamodb.ts).
   */
  async #send<T>(operation: string, command: object, signal: AbortSignal | undefined): Promise<T> {
    try {
      signal?.throwIfAborted();
      return await abandonOnAbort(
        this.client.send(command as never) as Promise<T>,
        signal,
        deadlinePassed,
      );
    } catch (error) {
      const e = error as Error & { $metadata?: { httpStatusCode?: number } };
      throw new DynamoDbApiError(operation, e.name, e.message, e.$metadata?.httpStatusCode, {
        cause: error,
      });
    }
  }
}
