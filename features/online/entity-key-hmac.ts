/**
 * Keyed hashing of entity keys (HMAC-SHA256), plugged into every store through `KeyLayout`'s
 * `encodeEntityKey` hook, so a dump of Redis or DynamoDB does not reveal birth dates and SSN
 * digits. The materializer and the readers must be built with the same secret; rotating it means
 * re-materializing (old keys simply stop being found).
 *
 * Why keyed: a dob_ssn has only ~4 × 10^8 possible values (100 years of birth dates × 10,000),
 * so a plain SHA-256 of it is reversed by enumeration in seconds. Without the secret the HMAC
 * cannot be enumerated.
 *
 * Only `dob_ssn` is hashed by default: a ZIP code is not personal data, and its stored features
 * (city, state, population, wages) identify it anyway, so hashing it would hide nothing while
 * costing a hash per read and making the table harder to operate. `entities` can widen it.
 *
 * `node:crypto` because the hook is synchronous and Web Crypto's HMAC is async-only; it is
 * available in Node and in Workers with the `nodejs_compat` flag (wrangler.jsonc sets it).
 */
import { createHmac } from 'node:crypto';
import type { EntityName } from '../definitions.js';
import type { EntityKeyEncoder } from './key-layout.js';

/** Below this the secret is guessable; 32 bytes is the HMAC-SHA256 block-size recommendation. */
export const MIN_SECRET_BYTES = 32;

export interface HmacEntityKeyOptions {
  /** Output alphabet: base64url (43 chars, default) or hex (64 chars). */
  readonly encoding?: 'base64url' | 'hex';
  /** Entities whose keys are hashed; default `['dob_ssn']` (see the module comment). */
  readonly entities?: readonly EntityName[];
}

/** The secret is missing or too short; the message names the setting, never its value. */
export class EntityKeySecretError extends Error {
  override readonly name = 'EntityKeySecretError';
}

/**
 * @example
 * const encodeEntityKey = createHmacEntityKeyEncoder(config.ENTITY_KEY_HMAC_SECRET);
 * new RedisTcpStore({ url, encodeEntityKey });
 * new DynamoDbStore({ tableName, encodeEntityKey });
 */
export function createHmacEntityKeyEncoder(
  secret: string | Uint8Array,
  options: HmacEntityKeyOptions = {},
): EntityKeyEncoder {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret.slice();
  if (key.byteLength < MIN_SECRET_BYTES) {
    throw new EntityKeySecretError(
      `entity key HMAC secret (ENTITY_KEY_HMAC_SECRET) must be at least ${MIN_SECRET_BYTES} bytes, got ${key.byteLength}`,
    );
  }
  const encoding = options.encoding ?? 'base64url';
  const hashed = new Set<EntityName>(options.entities ?? ['dob_ssn']);
  return (entity, canonicalKey) =>
    hashed.has(entity)
      ? // The entity name is part of the message so equal keys of different entities never collide.
        createHmac('sha256', key).update(`${entity}\u0000${canonicalKey}`).digest(encoding)
      : canonicalKey;
}
