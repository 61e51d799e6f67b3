import * as z from 'zod/mini';

/**
 * Runtime configuration, parsed once by the entry files from `process.env` (Node, Lambda) or the
 * Worker `env`. Every setting is documented in the README; defaults are sized for a 10 ms budget.
 */

/** Unset and empty both mean "not configured". */
const optionalString = z.pipe(
  z.optional(z.string()),
  z.transform((value) => (value === '' ? undefined : value)),
);

/** Comma-separated list; unset or empty → []. */
const csv = z.pipe(
  z.optional(z.string()),
  z.transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
);

/** "true"/"1" or "false"/"0"; unset → undefined (the policy default applies). */
const flag = z.pipe(
  z.optional(z.enum(['true', 'false', '1', '0', ''])),
  z.transform((value) =>
    value === undefined || value === '' ? undefined : value === 'true' || value === '1',
  ),
);

const unsetAsUndefined = (value: unknown) =>
  value === undefined || value === '' ? undefined : Number(value);

const number = (fallback: number) =>
  z.pipe(z.transform(unsetAsUndefined), z._default(z.number().check(z.positive()), fallback));

export const ConfigSchema = z.object({
  PORT: z.pipe(
    z.transform(unsetAsUndefined),
    z._default(z.number().check(z.int(), z.gte(0), z.lte(65_535)), 3000),
  ),
  /** Interface the Node server listens on; unset: every interface. */
  HOST: optionalString,
  MODEL_PATH: optionalString,
  /** Reject when P(default) ≥ this; unset: the model's label decides (P(default) > 0.5). */
  DECISION_THRESHOLD: z.pipe(
    z.transform(unsetAsUndefined),
    z.optional(z.number().check(z.gte(0), z.lte(1))),
  ),
  REDIS_URL: optionalString,
  UPSTASH_REDIS_REST_URL: optionalString,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  REDIS_KEY_PREFIX: z._default(z.string(), 'loan:'),
  DYNAMODB_TABLE: optionalString,
  /** Deadline for the Redis / Upstash read before falling back to DynamoDB. */
  REDIS_DEADLINE_MS: number(4),
  /** Deadline for the DynamoDB read; past it (and the Redis deadline's rest) it is hedged. */
  DYNAMODB_DEADLINE_MS: number(5),
  /** Give up on the feature read (503) after this; never before the two deadlines' sum. */
  FEATURE_READ_TIMEOUT_MS: number(100),
  MAX_BODY_BYTES: number(16 * 1024),
  MAX_BATCH_SIZE: number(100),
  RETRY_AFTER_SECONDS: number(1),
  LOG_LEVEL: z._default(z.enum(['debug', 'info', 'warn', 'error', 'silent']), 'info'),
  /** SageMaker endpoint scoring the encoded features (optional; the in-process tree is fallback). */
  SAGEMAKER_ENDPOINT: optionalString,
  /** primary: SageMaker's answer serves; shadow: in-process serves, SageMaker is compared. */
  SAGEMAKER_MODE: z._default(z.enum(['primary', 'shadow']), 'primary'),
  SAGEMAKER_CONTENT_TYPE: z._default(z.enum(['text/csv', 'application/json']), 'text/csv'),
  SAGEMAKER_DEADLINE_MS: number(5),
  /** Bearer API keys (comma-separated, ≥ 20 characters each; several for rotation). */
  API_KEYS: csv,
  /** Unset: required when NODE_ENV=production or STAGE is set (deployed stages). */
  REQUIRE_API_KEY: flag,
  NODE_ENV: optionalString,
  /** The deployment stage (SST sets it); any value turns API keys on by default. */
  STAGE: optionalString,
  /** Origins of the applicants' frontends allowed by CORS (comma-separated). */
  CORS_ORIGINS: csv,
  /** Rate limiting with @upstash/ratelimit; unset: on when Upstash is configured. */
  RATE_LIMIT: flag,
  RATE_LIMIT_PER_KEY: number(6_000),
  RATE_LIMIT_PER_IP: number(600),
  RATE_LIMIT_WINDOW_SECONDS: number(60),
  RATE_LIMIT_TIMEOUT_MS: number(10),
  /** Keyed hashing (HMAC-SHA256) of dob_ssn in the stores; the materializer must use the same. */
  ENTITY_KEY_HMAC_SECRET: optionalString,
  /** Folder of sample Parquet files for the embedded store (no store configured). */
  SAMPLE_DATA_DIR: optionalString,
});

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseConfig(env: Record<string, unknown>): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = result.data;
  if (Boolean(config.UPSTASH_REDIS_REST_URL) !== Boolean(config.UPSTASH_REDIS_REST_TOKEN)) {
    throw new ConfigError(
      'invalid configuration: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together',
    );
  }
  return config;
}
