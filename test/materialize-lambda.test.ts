import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { featureViews } from '../features/definitions.js';
import { generateSampleTables, sampleTableToParquet } from '../features/offline/sample-data.js';
import { DynamoDbStore, createDynamoDbTable } from '../features/online/dynamodb.js';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import { startDynalite, type DynaliteHandle } from './harness/dynalite.js';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.js';
import { startS3rver, uploadFiles, type S3rverHandle } from './harness/s3rver.js';
import { startSqsServer, type SqsMessage, type SqsServerHandle } from './harness/sqs-server.js';

/**
 * The AWS side of materialization with real event shapes: the scheduled Lambda plans a window
 * from S3 (s3rver) and sends its units through the real SQS client; the queue's subscriber runs
 * them into redis-server and dynalite; the watermark moves when the last unit completes.
 */

const EXAMPLE = { zipcode: 76104, dob_ssn: '19630621_4278' };
const END = '2026-11-01T00:00:00Z';
let redis: RedisServerHandle;
let dynalite: DynaliteHandle;
let s3rver: S3rverHandle;
let sqs: SqsServerHandle;
const table = `materialize-${Date.now()}`;
const savedEnv = { ...process.env };
let units: SqsMessage[] = [];

const scheduledEvent = (time: string) => ({
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event' as const,
  source: 'aws.events',
  account: '123456789012',
  time,
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/loan-decision-api-Materialize'],
  detail: {},
});

function sqsEvent(messages: { messageId: string; body: string }[]): SQSEvent {
  return {
    Records: messages.map(({ messageId, body }) => ({
      messageId,
      receiptHandle: `handle-${messageId}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1795374000000',
        SenderId: 'AIDAEXAMPLE',
        ApproximateFirstReceiveTimestamp: '1795374000001',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:MaterializeUnits',
      awsRegion: 'us-east-1',
    })),
  };
}

beforeAll(async () => {
  [redis, dynalite, s3rver, sqs] = await Promise.all([
    startRedisServer(),
    startDynalite(),
    startS3rver(),
    startSqsServer(),
  ]);
  // A small generated source (dynalite is slow), in several row groups per file.
  const files: Record<string, Uint8Array> = {};
  for (const table of generateSampleTables({ loans: 300, zipcodes: 200, seed: 3 })) {
    if (table.file === 'loan_table.parquet') continue;
    files[`features/${table.file}`] = new Uint8Array(sampleTableToParquet(table, 100));
  }
  await uploadFiles(s3rver.client(), 'sources', files);
  const dynamo = new DynamoDBClient({
    endpoint: dynalite.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await createDynamoDbTable(dynamo, table);
  dynamo.destroy();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    // s3rver accepts only its own development keys; dynalite and the SQS endpoint take any.
    AWS_ACCESS_KEY_ID: s3rver.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3rver.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3rver.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    MATERIALIZE_SOURCE: 's3://sources/features',
    MATERIALIZE_QUEUE_URL: `${sqs.endpoint}/123456789012/MaterializeUnits`,
    REDIS_URL: redis.url,
    DYNAMODB_TABLE: table,
    LOG_LEVEL: 'silent',
  });
  vi.resetModules();
}, 60_000);

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([redis?.stop(), dynalite?.stop(), s3rver?.stop(), sqs?.stop()]);
});

describe('materialization Lambdas (cron → SQS → subscriber)', () => {
  it('plans, fans out, writes both stores and advances the watermark only at the last unit', async () => {
    const { schedule, unit } = await import('../functions/materialize-lambda.js');
    await schedule(scheduledEvent(END));
    units = [...sqs.messages];
    expect(units.length).toBeGreaterThan(1); // several row groups → several units
    // FIFO groups by entity, so one entity's units never run concurrently.
    expect(new Set(units.map((u) => u.groupId))).toEqual(new Set(['zipcode', 'dob_ssn']));

    // Before the last unit completes, the next schedule re-plans the same window.
    for (const message of units.slice(0, -1)) {
      expect((await unit(sqsEvent([message]))).batchItemFailures).toEqual([]);
    }
    sqs.messages.length = 0;
    await schedule(scheduledEvent(END));
    expect(sqs.messages.map((m) => JSON.parse(m.body).windowId)).toContain(
      JSON.parse(units[0].body).windowId,
    );

    expect((await unit(sqsEvent([units.at(-1)!]))).batchItemFailures).toEqual([]);
    // Now complete: the same end plans nothing new for the window.
    sqs.messages.length = 0;
    await schedule(scheduledEvent(END));
    expect(sqs.messages).toEqual([]);

    for (const store of [
      new RedisTcpStore({ url: redis.url }),
      new DynamoDbStore({ tableName: table, clientConfig: { endpoint: dynalite.endpoint } }),
    ]) {
      const { results } = await store.read([EXAMPLE], featureViews, { now: Date.parse(END) });
      expect(results[0].zipcode_features.status).toBe('present');
      expect(results[0].credit_history.status).toBe('present');
      expect(results[0].zipcode_features.values.city).toBe('FORT WORTH');
      await store.close?.();
    }
  });

  it('reports a failing unit as a batch item failure and drops an unparseable message', async () => {
    const { unit } = await import('../functions/materialize-lambda.js');
    expect(units.length).toBeGreaterThan(0);
    await redis.kill(); // the unit's Redis write fails: SQS must redeliver that message
    try {
      const response = await unit(
        sqsEvent([
          { messageId: 'garbage', body: 'not a unit' },
          { messageId: 'not-a-unit', body: JSON.stringify({ bogus: true }) },
          { messageId: 'redis-down', body: units[0].body },
        ]),
      );
      // Unparseable messages can never succeed: dropped (logged), not redelivered forever.
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'redis-down' }]);
    } finally {
      await redis.restart();
    }
    // Redelivered once Redis is back, the (idempotent) unit succeeds.
    expect(
      (await unit(sqsEvent([{ messageId: 'again', body: units[0].body }]))).batchItemFailures,
    ).toEqual([]);
  });
});

describe('materialization Lambdas, bundled', () => {
  it('do not carry the serving runtime, which lambda.ts builds when it is imported', async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: ['functions/materialize-lambda.ts'],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('functions/linked-resources.ts');
    expect(inputs.filter((path) => /functions\/(lambda|node-runtime)\.ts$/.test(path))).toEqual([]);
  });
});
