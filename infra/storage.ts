// Feature storage: the online fallback table, the offline Parquet sources, the Upstash secrets.

/** Fallback online store and materialization state: one item per entity (README "Key layout"). */
export const features = new sst.aws.Dynamo('Features', {
  fields: { pk: 'string' },
  primaryIndex: { hashKey: 'pk' },
});

/** Offline sources: zipcode_table.parquet and credit_history.parquet (files or folders). */
export const sources = new sst.aws.Bucket('FeatureSources');

// Optional: empty placeholders mean "not configured" (the API then serves from DynamoDB alone).
export const upstashUrl = new sst.Secret('UpstashRedisRestUrl', '');
export const upstashToken = new sst.Secret('UpstashRedisRestToken', '');
/** Bearer keys of the applicants' frontends (comma-separated); required in deployed stages. */
export const apiKeys = new sst.Secret('ApiKeys');
/** HMAC key for dob_ssn in Redis and DynamoDB; serving and materialization must share it. */
export const entityKeyHmacSecret = new sst.Secret('EntityKeyHmacSecret', '');
