import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { DynamoDbStore } from '../../features/online/dynamodb.js';
import { RedisTcpStore } from '../../features/online/redis-tcp.js';
import type { FeatureRecord } from '../../features/online/types.js';
import { loadModel } from '../../model/model.js';
import { startDynalite } from '../harness/dynalite.js';
import { startRedisServer } from '../harness/redis-server.js';
import { startS3rver } from '../harness/s3rver.js';
import { startUpstashBridge } from '../harness/upstash-bridge.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../fixtures/applicant.js';
import { DYNAMODB_ONLY_APPLICANT, DYNAMODB_ONLY_ZIPCODE, WORKER_APPLICANT } from './applicants.js';
import {
  MATERIALIZE_BUCKET,
  MATERIALIZE_PREFIX,
  SCHEDULED_TIME,
  seedMaterializationSource,
} from './materialize-source.js';

/**
 * Real services for the Worker tests: redis-server with the Upstash REST bridge in front of it,
 * a second bridge that always answers 500 (Upstash down), dynalite behind both, and s3rver
 * holding the Parquet sources the Worker's cron materializes. One applicant lives only in Redis,
 * another only in DynamoDB, a third only in Parquet until materialized. The expected decisions
 * are computed here, in Node, from the same model file, so the tests prove the Worker bundle
 * decides exactly as Node does.
 */

const TABLE = 'worker-online';

export default async function setup(project: TestProject) {
  const [redis, dynalite, s3] = await Promise.all([
    startRedisServer(),
    startDynalite(),
    startS3rver(),
  ]);
  // One set of AWS credentials, as a Worker has: s3rver checks signatures against its fixed key
  // pair, dynalite accepts any.
  const AWS = { region: s3.region, ...s3.credentials };
  const [bridge, faultyBridge] = await Promise.all([
    startUpstashBridge({ redisUrl: redis.url, token: 'worker-test-token' }),
    startUpstashBridge({ redisUrl: redis.url, token: 'worker-test-token' }),
  ]);
  faultyBridge.fault = 'http500';

  const redisOnly = [zipcodeRecord(), creditRecord(WORKER_APPLICANT)];
  const redisStore = new RedisTcpStore({ url: redis.url });
  await redisStore.write(redisOnly);
  await redisStore.close?.();

  const dynamodbOnly = [
    zipcodeRecord(DYNAMODB_ONLY_ZIPCODE),
    creditRecord(DYNAMODB_ONLY_APPLICANT, { hard_pulls: 3, missed_payments_1y: 2 }),
  ];
  const dynamodb = new DynamoDbStore({
    tableName: TABLE,
    clientConfig: {
      endpoint: dynalite.endpoint,
      region: AWS.region,
      credentials: { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey },
    },
  });
  await dynamodb.createTable();
  await dynamodb.write(dynamodbOnly);
  await dynamodb.close();

  const model = await loadModel(new Uint8Array(await readFile('model/model.onnx')));
  const expected = (application: Record<string, unknown>, records: FeatureRecord[]) => {
    const { prediction } = model.predict(
      Object.assign({}, application, ...records.map((record) => record.values)),
    );
    return {
      probability: prediction.probabilities[1],
      decision: prediction.label === 1 ? ('rejected' as const) : ('approved' as const),
    };
  };
  const upstashDecision = expected(applicationFor(WORKER_APPLICANT), redisOnly);
  const dynamodbDecision = expected(
    applicationFor(DYNAMODB_ONLY_APPLICANT, DYNAMODB_ONLY_ZIPCODE),
    dynamodbOnly,
  );

  const s3Client = s3.client();
  const materialized = await seedMaterializationSource(s3Client);
  s3Client.destroy();
  const materializedApplication = applicationFor(materialized.dobSsn, materialized.zipcode);
  const materializedDecision = model.predict({
    ...materializedApplication,
    ...materialized.features,
  }).prediction;

  project.provide('upstashUrl', bridge.url);
  project.provide('upstashToken', bridge.token);
  project.provide('faultyUpstashUrl', faultyBridge.url);
  project.provide('dynamodb', { ...AWS, endpoint: dynalite.endpoint, table: TABLE });
  project.provide('expectedProbability', upstashDecision.probability);
  project.provide('expectedDecision', upstashDecision.decision);
  project.provide('dynamodbExpectedProbability', dynamodbDecision.probability);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('materializeSource', `s3://${MATERIALIZE_BUCKET}/${MATERIALIZE_PREFIX}`);
  project.provide('materializedApplication', materializedApplication);
  project.provide('materializedProbability', materializedDecision.probabilities[1]);
  project.provide('scheduledTime', SCHEDULED_TIME);

  return async () => {
    await Promise.allSettled([bridge.stop(), faultyBridge.stop()]);
    await Promise.allSettled([redis.stop(), dynalite.stop(), s3.stop()]);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
    faultyUpstashUrl: string;
    dynamodb: {
      endpoint: string;
      table: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
    };
    expectedProbability: number;
    expectedDecision: 'approved' | 'rejected';
    dynamodbExpectedProbability: number;
    s3Endpoint: string;
    /** s3://bucket/prefix holding zipcode_table.parquet and credit_history.parquet. */
    materializeSource: string;
    /** An applicant whose features exist only in the Parquet source until materialized. */
    materializedApplication: ReturnType<typeof applicationFor>;
    materializedProbability: number;
    /** The cron time of the first materialization run (epoch ms). */
    scheduledTime: number;
  }
}
