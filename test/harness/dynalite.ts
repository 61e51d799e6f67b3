/**
 * dynalite (a DynamoDB implementation on LevelDB, in memory here) in-process on a free port.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

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
