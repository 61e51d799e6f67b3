import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// The Worker (functions/worker.ts, bundled by wrangler's rules) runs inside workerd and talks to
// real Redis through the Upstash REST bridge started by the global setup.
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: './functions/worker.ts',
      wrangler: { configPath: './wrangler.jsonc' },
      miniflare: {
        bindings: {
          UPSTASH_REDIS_REST_URL: inject('upstashUrl'),
          UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'),
          LOG_LEVEL: 'warn',
          // workerd's first fetch to the bridge is slower than Node's; the budget is for prod.
          REDIS_DEADLINE_MS: '2000',
          DYNAMODB_DEADLINE_MS: '2000',
        },
      },
    })),
  ],
  test: {
    include: ['test/worker/**/*.test.ts'],
    globalSetup: ['test/worker/global-setup.ts'],
    testTimeout: 30_000,
  },
});
