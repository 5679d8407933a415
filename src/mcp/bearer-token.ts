import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh bearer token: 32 random bytes, base64url (43 characters). */
export function newBearerToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A token as `Authorization: Bearer` carries it (RFC 6750 b64token), 32 to 512 characters. */
export const BEARER_TOKEN = /^[A-Za-z0-9._~+/=-]{32,512}$/;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Whether an `Authorization` header carries `token` as `Bearer <token>`. The
 * two are compared as sha256 digests in constant time, so neither the length
 * nor a matching prefix of the token shows in how long a refusal takes. One
 * check for the approval desk's operator token and the bridge's client token.
 */
export function bearerCheck(token: string): (header: string | string[] | undefined) => boolean {
  if (!BEARER_TOKEN.test(token))
    throw new Error('a bearer token must be 32 to 512 characters of A-Za-z0-9._~+/=-');
  const expected = digest(token);
  return (header) => {
    // The scheme's name is case-insensitive (RFC 9110 11.1: `bearer`, `BEARER` are Bearer), then
    // one or more spaces (RFC 6750 2.1); the token's characters are RFC 6750's b64token.
    const match = typeof header === 'string' ? /^bearer +([A-Za-z0-9._~+/=-]{1,512})$/i.exec(header) : null;
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };
}
