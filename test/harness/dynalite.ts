/**
 * dynalite (a DynamoDB implementation on LevelDB, in memory here) in-process on a free port.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { DynamoDbStore } from '../../features/online/dynamodb.js';
import type { FeatureRecord } from '../../features/online/types.js';

export interface DynaliteHandle {
  /** e.g. http://127.0.0.1:PORT — pass as the client `endpoint` (AWS_ENDPOINT_URL_DYNAMODB). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<DynaliteHandle> {
  const server: Server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** dynalite accepts any credentials; the SDK only needs some. */
export const DYNALITE_CREDENTIALS = { accessKeyId: 'dynalite', secretAccessKey: 'dynalite' };

/**
 * Creates `tableName` on the dynalite at `endpoint` and writes `records` into it through the
 * project's own DynamoDbStore (the item layout the server reads), then closes the client.
 */
export async function seedDynaliteTable(
  endpoint: string,
  tableName: string,
  records: readonly FeatureRecord[],
): Promise<void> {
  const store = new DynamoDbStore({
    tableName,
    clientConfig: { endpoint, region: 'us-east-1', credentials: DYNALITE_CREDENTIALS },
  });
  try {
    await store.createTable();
    await store.write(records);
  } finally {
    await store.close();
  }
}
