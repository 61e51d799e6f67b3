import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// The Worker (functions/worker.ts, bundled by wrangler's rules) runs inside workerd and talks to
// real Redis through the Upstash REST bridge, to dynalite and to s3rver over signed fetch, all
// started by the global setup. These bindings stand in for the Worker's vars and secrets; the
// queue (producer and consumer) comes from wrangler.jsonc and is miniflare's real one.
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const dynamodb = inject('dynamodb');
      return {
        main: './functions/worker.ts',
        wrangler: { configPath: './wrangler.jsonc' },
        miniflare: {
          bindings: {
            UPSTASH_REDIS_REST_URL: inject('upstashUrl'),
            UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'),
            DYNAMODB_TABLE: dynamodb.table,
            AWS_REGION: dynamodb.region,
            AWS_ACCESS_KEY_ID: dynamodb.accessKeyId,
            AWS_SECRET_ACCESS_KEY: dynamodb.secretAccessKey,
            AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
            AWS_ENDPOINT_URL_S3: inject('s3Endpoint'),
            MATERIALIZE_SOURCE: inject('materializeSource'),
            // Small units, so one window fans out into several queue messages.
            MATERIALIZE_MAX_ROWS_PER_UNIT: '50',
            LOG_LEVEL: 'warn',
            // workerd's first fetch to the bridge is slower than Node's; the budget is for prod.
            REDIS_DEADLINE_MS: '2000',
            DYNAMODB_DEADLINE_MS: '2000',
          },
        },
      };
    }),
  ],
  test: {
    include: ['test/worker/**/*.test.ts'],
    globalSetup: ['test/worker/global-setup.ts'],
    testTimeout: 30_000,
  },
});
