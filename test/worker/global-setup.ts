import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { RedisTcpStore } from '../../features/online/redis-tcp.js';
import { loadModel } from '../../model/model.js';
import { startRedisServer } from '../harness/redis-server.js';
import { startUpstashBridge } from '../harness/upstash-bridge.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../fixtures/applicant.js';

/**
 * Real services for the Worker tests: redis-server and the Upstash REST bridge in front of it,
 * seeded with one applicant. The expected decision is computed here, in Node, from the same
 * model file, so the test proves the Worker bundle decides exactly as Node does.
 */
export const WORKER_APPLICANT = '19700101_0001';

export default async function setup(project: TestProject) {
  const redis = await startRedisServer();
  const bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'worker-test-token' });
  const store = new RedisTcpStore({ url: redis.url });
  const zipcode = zipcodeRecord();
  const credit = creditRecord(WORKER_APPLICANT);
  await store.write([zipcode, credit]);
  await store.close?.();

  const model = await loadModel(new Uint8Array(await readFile('model/model.onnx')));
  const { prediction } = model.predict({
    ...applicationFor(WORKER_APPLICANT),
    ...zipcode.values,
    ...credit.values,
  });

  project.provide('upstashUrl', bridge.url);
  project.provide('upstashToken', bridge.token);
  project.provide('expectedProbability', prediction.probabilities[1]);
  project.provide('expectedDecision', prediction.label === 1 ? 'rejected' : 'approved');

  return async () => {
    await bridge.stop();
    await redis.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
    expectedProbability: number;
    expectedDecision: 'approved' | 'rejected';
  }
}
