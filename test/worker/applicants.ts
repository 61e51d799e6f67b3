/** Synthetic applicants of the Worker tests, shared by the Node global setup and workerd. */

/** Features only in Redis (served through the Upstash bridge). */
export const WORKER_APPLICANT = '19700101_0001';
/** Features (both views) only in DynamoDB, so Upstash misses every view until a refill. */
export const DYNAMODB_ONLY_APPLICANT = '19700101_0003';
export const DYNAMODB_ONLY_ZIPCODE = 30301;
/** Features nowhere. */
export const UNKNOWN_APPLICANT = '19700101_0002';
