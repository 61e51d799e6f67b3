/**
 * Real stores for the benchmarks and the soak, seeded with the applicants the client sends, and
 * the environment a server needs to use them. Each store runs in its own process (redis-server,
 * dynalite through its CLI) so that the benchmark client's event loop serves nothing but the
 * client; only the Upstash REST bridge runs in the bench process (it is a test harness, not a
 * product: its latency is part of what "Upstash REST" costs here, and it is reported as such).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { RedisTcpStore } from '../features/online/redis-tcp.js';
import type { FeatureRecord } from '../features/online/types.js';
import { DEFAULT_SAMPLE_DATA_DIR } from '../functions/node-runtime.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import { DYNALITE_CREDENTIALS, seedDynaliteTable } from '../test/harness/dynalite.js';
import { freePort } from '../test/harness/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../test/harness/redis-server.js';
import { startUpstashBridge, type UpstashBridgeHandle } from '../test/harness/upstash-bridge.js';
import { repoRoot } from './bench-server.js';

export type StoreSetup = 'redis' | 'upstash' | 'dynamodb' | 'embedded' | 'redis+dynamodb';

export interface SeededStores {
  /** Settings for the server, as a deployment sets them. */
  readonly env: Record<string, string>;
  /** Request bodies of applicants whose features are in the stores. */
  readonly applications: readonly Record<string, unknown>[];
  /** The redis-server, when the setup has one (the fault phase kills it). */
  readonly redis?: RedisServerHandle;
  /** Writes the feature rows into Redis again (after a restart, which empties it). */
  reseedRedis(): Promise<void>;
  stop(): Promise<void>;
}

const APPLICANTS = 1_000;
const ZIPCODES = 100;

/** Synthetic applicants (not from any dataset): distinct, well-formed dob_ssn values. */
export function benchDobSsn(i: number): string {
  const month = String((i % 12) + 1).padStart(2, '0');
  const day = String((i % 28) + 1).padStart(2, '0');
  return `1970${month}${day}_${String(i % 10_000).padStart(4, '0')}`;
}

function seededApplicants() {
  const records: FeatureRecord[] = [];
  for (let z = 0; z < ZIPCODES; z++) records.push(zipcodeRecord(76_000 + z));
  const applications = Array.from({ length: APPLICANTS }, (_, i) => {
    records.push(creditRecord(benchDobSsn(i), { missed_payments_2y: i % 3, hard_pulls: i % 5 }));
    return applicationFor(benchDobSsn(i), 76_000 + (i % ZIPCODES));
  });
  return { records, applications };
}

async function seedRedis(url: string, records: readonly FeatureRecord[]) {
  const store = new RedisTcpStore({ url });
  try {
    await store.write(records);
  } finally {
    await store.close();
  }
}

export async function startStores(setup: StoreSetup): Promise<SeededStores> {
  if (setup === 'embedded') return embeddedStores();
  const { records, applications } = seededApplicants();
  const stops: Array<() => Promise<void>> = [];
  const env: Record<string, string> = {};
  let redis: RedisServerHandle | undefined;
  let bridge: UpstashBridgeHandle | undefined;
  try {
    if (setup !== 'dynamodb') {
      redis = await startRedisServer();
      stops.push(() => redis!.stop());
      await seedRedis(redis.url, records);
      if (setup === 'upstash') {
        bridge = await startUpstashBridge({ redisUrl: redis.url, token: 'bench-token' });
        stops.unshift(() => bridge!.stop());
        env.UPSTASH_REDIS_REST_URL = bridge.url;
        env.UPSTASH_REDIS_REST_TOKEN = bridge.token;
      } else {
        env.REDIS_URL = redis.url;
      }
    }
    if (setup === 'dynamodb' || setup === 'redis+dynamodb') {
      const dynalite = await startDynaliteProcess();
      stops.push(dynalite.stop);
      const table = 'bench-features';
      await seedDynaliteTable(dynalite.endpoint, table, records);
      Object.assign(env, {
        DYNAMODB_TABLE: table,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: DYNALITE_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DYNALITE_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      });
    }
  } catch (error) {
    for (const stop of stops) await stop().catch(() => {});
    throw error;
  }
  return {
    env,
    applications,
    redis,
    reseedRedis: async () => {
      if (redis) await seedRedis(redis.url, records);
    },
    stop: async () => {
      for (const stop of stops) await stop().catch(() => {});
    },
  };
}

/** dynalite (DynamoDB on in-memory LevelDB) as its own process, through its CLI. */
async function startDynaliteProcess(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const port = await freePort();
  const cli = path.join(repoRoot, 'node_modules', 'dynalite', 'cli.js');
  const child = spawn(
    process.execPath,
    [cli, '--port', String(port), '--host', '127.0.0.1', '--createTableMs', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dynalite did not start within 20 s')), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error('dynalite exited before listening')));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * No store configured: the server loads the sample Parquet files itself. The client sends
 * applications from the sample loan table (applicants the sample credit history knows); the
 * caller keeps those the server answers with 200 (some sample applicants lack a view).
 */
async function embeddedStores(): Promise<SeededStores> {
  const file = await asyncBufferFromFile(path.join(DEFAULT_SAMPLE_DATA_DIR, 'loan_table.parquet'));
  const columns = [
    'zipcode',
    'dob_ssn',
    'person_age',
    'person_income',
    'person_home_ownership',
    'person_emp_length',
    'loan_intent',
    'loan_amnt',
    'loan_int_rate',
  ];
  const rows = await parquetReadObjects({ file, columns, rowStart: 0, rowEnd: APPLICANTS });
  const applications = rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
    ),
  );
  return { env: {}, applications, reseedRedis: async () => {}, stop: async () => {} };
}
