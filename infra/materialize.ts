import { entityKeyHmacSecret, features, sources, upstashToken, upstashUrl } from './storage';

// Incremental materialization S3 Parquet → Redis + DynamoDB: a cron plans the window and fans
// its units out over SQS; the subscriber runs one unit a message. A unit is idempotent, so a
// redelivery is harmless; the watermark advances when every unit of the window has completed.
const linked = [features, sources, upstashUrl, upstashToken, entityKeyHmacSecret];

export const units = new sst.aws.Queue('MaterializeUnits', {
  // Longer than the subscriber's timeout, so a running unit is not delivered twice.
  visibilityTimeout: '16 minutes',
});

units.subscribe(
  {
    handler: 'functions/materialize-lambda.unit',
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    memory: '1024 MB',
    timeout: '15 minutes',
    link: linked,
  },
  { batch: { size: 1, partialResponses: true } },
);

export const schedule = new sst.aws.CronV2('Materialize', {
  schedule: 'rate(15 minutes)',
  function: {
    handler: 'functions/materialize-lambda.schedule',
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    memory: '512 MB',
    timeout: '5 minutes',
    link: [...linked, units],
  },
});
