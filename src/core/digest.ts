import { createHash, hash } from 'node:crypto';

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** One-shot (crypto.hash): cheaper than a Hash object for the short inputs hashed per call. Strings as UTF-8. */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}
