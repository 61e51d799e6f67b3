import { defineConfig } from 'vitest/config';

// Node-side tests: unit tests beside their sources and integration tests under test/, each file
// starting the real services it needs (redis-server, the Upstash REST bridge, dynalite, s3rver)
// on free ports through test/harness. Worker tests run inside workerd (vitest.workers.config.ts).
export default defineConfig({
  test: {
    include: [
      'features/**/*.test.ts',
      'model/**/*.test.ts',
      'functions/**/*.test.ts',
      'scripts/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['test/worker/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
