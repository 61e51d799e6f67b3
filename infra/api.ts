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
  // The stores the app imports only when configured (Redis, Upstash, DynamoDB, the embedded
  // Parquet store) become chunks of their own, which a cold start then neither parses nor runs:
  // import to first decision 279 → 191 ms with the embedded store lazy too (bench-lambda-cold).
  nodejs: { splitting: true },
  environment: { MODEL_PATH: 'model/model.onnx', LOG_LEVEL: 'info' },
});
