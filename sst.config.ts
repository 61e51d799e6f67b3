/// <reference path="./.sst/platform/config.d.ts" />

// AWS infrastructure (infra/*.ts). `npx sst dev` runs the functions locally against real AWS
// resources; `npx sst deploy --stage production` deploys. Everything the functions need is linked
// and read with `Resource` in the adapters — no hand-named environment variables.
export default $config({
  app(input) {
    return {
      name: 'loan-decision-api',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
    };
  },
  async run() {
    await import('./infra/storage');
    const { api } = await import('./infra/api');
    await import('./infra/materialize');
    return { api: api.url };
  },
});
