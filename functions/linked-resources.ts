import { Resource } from 'sst';

// Its own module, apart from lambda.ts: importing lambda.ts builds the serving runtime (during
// Lambda's init), which the materializer's functions, also readers of these settings, must not.

/** Config from linked SST resources; an unlinked resource simply contributes nothing. */
export function linkedResourceEnv(): Record<string, string> {
  const linked: Record<string, string> = {};
  const read = (name: string, get: (resource: Record<string, string>) => string, key: string) => {
    try {
      const value = get((Resource as unknown as Record<string, Record<string, string>>)[name]);
      if (value) linked[key] = value;
    } catch {
      // Not linked in this stage or run (e.g. no Upstash secrets set): leave the setting unset.
    }
  };
  read('Features', (r) => r.name, 'DYNAMODB_TABLE');
  read('UpstashRedisRestUrl', (r) => r.value, 'UPSTASH_REDIS_REST_URL');
  read('UpstashRedisRestToken', (r) => r.value, 'UPSTASH_REDIS_REST_TOKEN');
  read('ApiKeys', (r) => r.value, 'API_KEYS');
  read('EntityKeyHmacSecret', (r) => r.value, 'ENTITY_KEY_HMAC_SECRET');
  read('App', (r) => r.stage, 'STAGE');
  return linked;
}
