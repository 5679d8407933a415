import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * `oacp_<id>_<secret>`: a 16-hex-digit public id (to find the row) and a
 * 256-bit secret in base64url. Only SHA-256(domain, per-key salt, secret) is
 * stored; a fast hash is right here because the secret is random, not a
 * password. The prefix lets secret scanners and log redaction spot keys.
 */
const KEY_PATTERN = /^oacp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const HASH_DOMAIN = 'oacp/apikey/v1';

export interface NewKey {
  readonly id: string;
  readonly secret: string;
  readonly presented: string;
}

export function newKey(): NewKey {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, presented: `oacp_${id}_${secret}` };
}

export function parseKey(presented: string): { readonly id: string; readonly secret: string } | undefined {
  const match = KEY_PATTERN.exec(presented);
  return match?.[1] === undefined || match[2] === undefined ? undefined : { id: match[1], secret: match[2] };
}

export function hashSecret(salt: Uint8Array, secret: string): Buffer {
  return createHash('sha256').update(HASH_DOMAIN).update(salt).update(secret, 'utf8').digest();
}

/** Constant-time over the fixed-length hashes, so timing does not reveal how much of a guess was right. */
export function secretMatches(salt: Uint8Array, secret: string, storedHash: Uint8Array): boolean {
  const computed = hashSecret(salt, secret);
  return computed.length === storedHash.length && timingSafeEqual(computed, storedHash);
}

export function newSalt(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}
