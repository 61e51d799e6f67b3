import { entityKeyHmacSecret, features, sources, upstashToken, upstashUrl } from './storage';

// Incremental materialization S3 Parquet → Redis + DynamoDB: a cron plans the window and fans
// its units out over SQS; the subscriber runs one unit a message. A unit is idempotent, so a
// redelivery is harmless; the watermark advances when every unit of the window has completed.
const linked = [features, sources, upstashUrl, upstashToken, entityKeyHmacSecret];

// FIFO, one message group per entity: units of the same entity run one at a time. DynamoDB
// writes are a BatchGetItem of the stored timestamps and then a BatchWriteItem (no conditions in
// a batch), so two concurrent writers of one entity could let an older row win; different
// entities (so different views) still run in parallel. Content-based deduplication drops the
// duplicate units a re-planned window sends within 5 minutes.
export const units = new sst.aws.Queue('MaterializeUnits', {
  fifo: { contentBasedDeduplication: true },
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
