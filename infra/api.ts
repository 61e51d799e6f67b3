import { apiKeys, entityKeyHmacSecret, features, upstashToken, upstashUrl } from './storage';

// The decision API: one Lambda behind a function URL serving POST /loan-decision,
// POST /loan-decisions, GET /health, GET /openapi.json and the demo page.
export const api = new sst.aws.Function('Api', {
  handler: 'functions/lambda.handler',
  runtime: 'nodejs22.x',
  architecture: 'arm64',
  memory: '1024 MB',
  timeout: '10 seconds',
  url: true,
  link: [features, upstashUrl, upstashToken, apiKeys, entityKeyHmacSecret],
  copyFiles: [{ from: 'model/model.onnx', to: 'model/model.onnx' }],
  environment: { MODEL_PATH: 'model/model.onnx', LOG_LEVEL: 'info' },
});
