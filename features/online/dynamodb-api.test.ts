import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { build } from 'esbuild';
import { startDynalite, type DynaliteHandle } from '../../test/harness/dynalite.js';
import { freePort } from '../../test/harness/free-port.js';
import { DynamoDbApiError, FetchDynamoDbApi, type DynamoDbApi } from './dynamodb-api.js';
import { createDynamoDbTable } from './dynamodb.js';
import { SdkDynamoDbApi } from './dynamodb-sdk-api.js';
import { NodeHttpDynamoDbApi, dynamoDbSigningFromEnv } from './dynamodb-node-http.js';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const TABLE = 'api-parity';

let dynalite: DynaliteHandle;
let faulty: FaultyServer;

beforeAll(async () => {
  [dynalite, faulty] = await Promise.all([startDynalite(), startFaultyServer()]);
  const admin = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials,
  });
  await createDynamoDbTable(admin, TABLE);
  admin.destroy();
});

afterAll(async () => {
  await Promise.allSettled([dynalite?.stop(), faulty?.stop()]);
});

const sdkApi = (endpoint: string) =>
  new SdkDynamoDbApi(
    new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 }),
  );
const fetchApi = (endpoint: string) =>
  new FetchDynamoDbApi({ endpoint, region: 'us-east-1', credentials });
const nodeHttpApi = (endpoint: string, region = 'us-east-1', sessionToken?: string) =>
  new NodeHttpDynamoDbApi(
    new DynamoDBClient({ region, credentials: { ...credentials, sessionToken } }),
    { endpoint, env: {} },
  );
/** Signed from the environment, without an SDK client (what Lambda's serving path uses). */
const ENV_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  AWS_REGION: 'us-east-1',
};
const nodeHttpEnvApi = (endpoint: string, env: Record<string, string> = ENV_CREDENTIALS) =>
  new NodeHttpDynamoDbApi(dynamoDbSigningFromEnv(env)!, { endpoint, env: {} });
const implementations: [string, (endpoint: string) => DynamoDbApi][] = [
  ['AWS SDK', sdkApi],
  ['fetch + aws4fetch', fetchApi],
  ['node:http + SDK signer', (endpoint) => nodeHttpApi(endpoint)],
  ['node:http + environment credentials', (endpoint) => nodeHttpEnvApi(endpoint)],
];
/** The two that speak the JSON protocol themselves. */
const protocolImplementations = implementations.slice(1);

const key = (pk: string) => ({ pk: { S: pk } });

async function rejection(promise: Promise<unknown>): Promise<DynamoDbApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DynamoDbApiError);
  return error as DynamoDbApiError;
}

describe('both DynamoDbApi implementations against dynalite', () => {
  it('write with one and read back the same items with the other', async () => {
    const [sdk, viaFetch] = [sdkApi(dynalite.endpoint), fetchApi(dynalite.endpoint)];
    const item = (pk: string, n: number) => ({
      ...key(pk),
      city: { S: 'ATLANTA' },
      n: { N: String(n) },
    });
    expect(
      await viaFetch.batchWriteItem({
        RequestItems: { [TABLE]: [{ PutRequest: { Item: item('fetch-1', 1) } }] },
      }),
    ).toMatchObject({ UnprocessedItems: {} });
    await sdk.batchWriteItem({
      RequestItems: { [TABLE]: [{ PutRequest: { Item: item('sdk-1', 2) } }] },
    });
    const input = {
      RequestItems: { [TABLE]: { Keys: [key('fetch-1'), key('sdk-1'), key('none')] } },
    };
    const [fromSdk, fromFetch, fromNodeHttp] = await Promise.all([
      sdk.batchGetItem(input),
      viaFetch.batchGetItem(input),
      nodeHttpApi(dynalite.endpoint).batchGetItem(input),
    ]);
    const byPk = (items: Record<string, unknown>[] | undefined) =>
      [...(items ?? [])].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(byPk(fromFetch.Responses?.[TABLE])).toEqual([item('fetch-1', 1), item('sdk-1', 2)]);
    expect(byPk(fromFetch.Responses?.[TABLE])).toEqual(byPk(fromSdk.Responses?.[TABLE]));
    expect(byPk(fromNodeHttp.Responses?.[TABLE])).toEqual(byPk(fromSdk.Responses?.[TABLE]));
    expect(fromFetch.UnprocessedKeys).toEqual({});
  });

  it.each(implementations)('%s maps DynamoDB errors to code and status', async (_, make) => {
    const api = make(dynalite.endpoint);
    const missing = await rejection(
      api.batchGetItem({ RequestItems: { 'no-such-table': { Keys: [key('a')] } } }),
    );
    expect(missing).toMatchObject({
      operation: 'BatchGetItem',
      code: 'ResourceNotFoundException',
      httpStatus: 400,
    });
    expect(missing.message).toMatch(/^BatchGetItem failed: ResourceNotFoundException: \S/);
    const duplicate = await rejection(
      api.batchGetItem({ RequestItems: { [TABLE]: { Keys: [key('a'), key('a')] } } }),
    );
    expect(duplicate).toMatchObject({ code: 'ValidationException', httpStatus: 400 });
    expect(duplicate.awsMessage).toMatch(/duplicate/i);
  });

  it.each(implementations)('%s aborts a hung request at the deadline', async (_, make) => {
    faulty.mode = 'hang';
    const started = performance.now();
    const error = await rejection(
      make(faulty.url).batchGetItem(
        { RequestItems: { [TABLE]: { Keys: [key('a')] } } },
        AbortSignal.timeout(100),
      ),
    );
    expect(error.code).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('the JSON-protocol implementations', () => {
  it.each([
    [
      'fetch + aws4fetch',
      () =>
        new FetchDynamoDbApi({
          endpoint: faulty.url,
          region: 'eu-west-1',
          credentials: { ...credentials, sessionToken: 'session' },
        }),
    ],
    ['node:http + SDK signer', () => nodeHttpApi(faulty.url, 'eu-west-1', 'session')],
  ] as const)(
    '%s speaks the JSON protocol with a SigV4 signature for the region',
    async (_, make) => {
      faulty.mode = 'ok';
      const api = make();
      const input = { RequestItems: { [TABLE]: { Keys: [key('a')] } } };
      await api.batchGetItem(input);
      const seen = faulty.lastRequest!;
      expect(seen.method).toBe('POST');
      expect(seen.url).toBe('/');
      expect(seen.headers['x-amz-target']).toBe('DynamoDB_20120810.BatchGetItem');
      expect(seen.headers['content-type']).toBe('application/x-amz-json-1.0');
      expect(seen.headers['x-amz-security-token']).toBe('session');
      expect(seen.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/,
      );
      expect(JSON.parse(seen.body)).toEqual(input);
    },
  );

  it('defaults the endpoint to the regional DynamoDB URL', () => {
    expect(new FetchDynamoDbApi({ region: 'eu-west-1', credentials }).endpoint).toBe(
      'https://dynamodb.eu-west-1.amazonaws.com/',
    );
  });

  it('node:http takes the endpoint from AWS_ENDPOINT_URL_DYNAMODB, as the SDK does', async () => {
    faulty.mode = 'ok';
    faulty.lastRequest = undefined;
    const api = new NodeHttpDynamoDbApi(new DynamoDBClient({ region: 'eu-west-1', credentials }), {
      env: { AWS_ENDPOINT_URL_DYNAMODB: faulty.url },
    });
    await api.batchGetItem({ RequestItems: { [TABLE]: { Keys: [key('a')] } } });
    const seen = faulty.lastRequest as FaultyServer['lastRequest'];
    expect(seen?.headers['x-amz-target']).toBe('DynamoDB_20120810.BatchGetItem');
    api.destroy();
  });

  it('reads credentials and region from the environment as the SDK does first, else nothing', () => {
    expect(dynamoDbSigningFromEnv({ ...ENV_CREDENTIALS, AWS_SESSION_TOKEN: 'tok' })).toEqual({
      region: 'us-east-1',
      // Literal values: the SDK tags the `credentials` object it was given with a `$source`.
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', sessionToken: 'tok' },
    });
    const { AWS_REGION: _, ...noRegion } = ENV_CREDENTIALS;
    expect(dynamoDbSigningFromEnv({ ...noRegion, AWS_DEFAULT_REGION: 'eu-west-1' })?.region).toBe(
      'eu-west-1',
    );
    // Anything missing: the caller falls back to an SDK client's full chain (ECS, IMDS, SSO…).
    expect(dynamoDbSigningFromEnv(noRegion)).toBeUndefined();
    expect(
      dynamoDbSigningFromEnv({ ...ENV_CREDENTIALS, AWS_SECRET_ACCESS_KEY: '' }),
    ).toBeUndefined();
    expect(dynamoDbSigningFromEnv({ AWS_REGION: 'us-east-1', AWS_PROFILE: 'dev' })).toBeUndefined();
  });

  it('signs from the environment exactly as the SDK signer does, session token included', async () => {
    faulty.mode = 'ok';
    faulty.lastRequest = undefined;
    const api = nodeHttpEnvApi(faulty.url, {
      ...ENV_CREDENTIALS,
      AWS_REGION: 'eu-west-1',
      AWS_SESSION_TOKEN: 'session-token',
    });
    const input = { RequestItems: { [TABLE]: { Keys: [key('a')] } } };
    await api.batchGetItem(input);
    api.destroy();
    const seen = faulty.lastRequest as FaultyServer['lastRequest'];
    const headers = seen!.headers as Record<string, string>;
    expect(headers['x-amz-security-token']).toBe('session-token');
    expect(headers.authorization).toContain('/eu-west-1/dynamodb/aws4_request');
    // The same request signed independently, at the same instant, by the SDK's own signer.
    const url = new URL(faulty.url);
    const stamp = headers['x-amz-date'];
    const expected = await new SignatureV4({
      service: 'dynamodb',
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'AKIDTEST',
        secretAccessKey: 'secret',
        sessionToken: 'session-token',
      },
      sha256: new DynamoDBClient({ region: 'eu-west-1' }).config.sha256,
    }).sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: {},
        headers: {
          host: url.host,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.BatchGetItem',
        },
        body: seen!.body,
      },
      {
        signingDate: new Date(
          `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
        ),
      },
    );
    expect(JSON.parse(seen!.body)).toEqual(input);
    expect(headers.authorization).toBe(expected.headers.authorization);
  });

  it.each([
    ['a proxy page on 502', 'html502', { code: 'HTTP502', httpStatus: 502 }],
    [
      'the error type only in x-amzn-ErrorType',
      'header-only',
      { code: 'ThrottlingException', httpStatus: 400 },
    ],
    ['a 200 that is not JSON', 'garbage200', { code: 'InvalidResponse', httpStatus: 200 }],
  ] as const)('maps %s', async (_, mode, expected) => {
    faulty.mode = mode;
    for (const [, make] of protocolImplementations) {
      const error = await rejection(
        make(faulty.url).batchWriteItem({ RequestItems: { [TABLE]: [] } }),
      );
      expect(error).toMatchObject({ operation: 'BatchWriteItem', ...expected });
    }
  });

  it.each(protocolImplementations)(
    '%s maps a refused connection to NetworkError',
    async (_, make) => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const error = await rejection(
        make(closed).batchGetItem({ RequestItems: { [TABLE]: { Keys: [key('a')] } } }),
      );
      expect(error).toMatchObject({ code: 'NetworkError', httpStatus: undefined });
      expect(error.message).toMatch(/ECONNREFUSED/);
    },
  );

  it('bundles for Workers without the AWS SDK runtime', async () => {
    const result = await build({
      stdin: {
        contents:
          "export { FetchDynamoDbApi } from './dynamodb-api.ts';" +
          "export { DynamoDbApiStore } from './dynamodb-api-store.ts';",
        resolveDir: import.meta.dirname,
        loader: 'ts',
      },
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['workerd', 'worker', 'browser'],
      logLevel: 'silent',
    });
    // Inputs esbuild read but tree-shaking dropped show 0 bytes in the output.
    const [output] = Object.values(result.metafile.outputs);
    const bundled = Object.entries(output.inputs)
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([path]) => path);
    expect(bundled.some((path) => path.includes('aws4fetch'))).toBe(true);
    expect(bundled.filter((path) => /@aws-sdk|@smithy/.test(path))).toEqual([]);
  });
});

interface FaultyServer {
  readonly url: string;
  mode: 'ok' | 'hang' | 'html502' | 'header-only' | 'garbage200';
  lastRequest?: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };
  stop(): Promise<void>;
}

/** A real HTTP server standing in for what sits between a Worker and DynamoDB when it fails. */
async function startFaultyServer(): Promise<FaultyServer> {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    handle.lastRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    switch (handle.mode) {
      case 'hang':
        return; // never answers; the client's deadline must end the call
      case 'ok':
        return void res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.0' })
          .end('{"Responses":{},"UnprocessedKeys":{}}');
      case 'html502':
        return void res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
      case 'header-only':
        return void res
          .writeHead(400, { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/' })
          .end();
      case 'garbage200':
        return void res.writeHead(200).end('<html>oops</html>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const handle: FaultyServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mode: 'ok',
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
