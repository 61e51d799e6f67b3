/// <reference path="./.sst/platform/config.d.ts" />

// AWS infrastructure. `npx sst dev` runs the functions locally against real AWS resources;
// `npx sst deploy --stage production` deploys. Everything the functions need is linked and read
// with `Resource` in the adapters — no hand-named environment variables.
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
    const upstashUrl = new sst.Secret('UpstashRedisRestUrl');
    const upstashToken = new sst.Secret('UpstashRedisRestToken');

    // Fallback online store: one item per entity (see README "Key layout").
    const features = new sst.aws.Dynamo('Features', {
      fields: { pk: 'string' },
      primaryIndex: { hashKey: 'pk' },
    });

    const api = new sst.aws.Function('Api', {
      handler: 'functions/lambda.handler',
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      memory: '1024 MB',
      timeout: '10 seconds',
      url: true,
      link: [features, upstashUrl, upstashToken],
      copyFiles: [{ from: 'model/model.onnx', to: 'model/model.onnx' }],
      environment: { MODEL_PATH: 'model/model.onnx', LOG_LEVEL: 'info' },
    });

    return { api: api.url };
  },
});
