import { OacpError } from '../core/errors.js';
import { base58btcDecode, base58btcEncode } from './base58btc.js';
import type { IdentityErrorCode } from './errors.js';

/** Multicodec `ed25519-pub` (0xed) as an unsigned varint: 0xed 0x01. */
const ED25519_PUB_PREFIX = Uint8Array.of(0xed, 0x01);
const DID_KEY_PREFIX = 'did:key:z';

/** Shape-only test (prefix and base58 alphabet); use `publicKeyFromDidKey` to validate fully. */
export const DID_KEY_PATTERN = /^did:key:z[1-9A-HJ-NP-Za-km-z]+$/;

/** `did:key:z` + base58btc(0xed 0x01 || publicKey): the did:key form of an Ed25519 key. */
export function didKeyFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_DID_INVALID',
      `cannot make a did:key: an Ed25519 public key is 32 bytes, got ${publicKey.length}`,
    );
  }
  const bytes = new Uint8Array(ED25519_PUB_PREFIX.length + publicKey.length);
  bytes.set(ED25519_PUB_PREFIX, 0);
  bytes.set(publicKey, ED25519_PUB_PREFIX.length);
  return DID_KEY_PREFIX + base58btcEncode(bytes);
}

/**
 * The raw Ed25519 public key inside a did:key. Strict: exact prefix, base58btc
 * multibase, the ed25519-pub multicodec and exactly 32 key bytes; a fragment,
 * query or any other key type is refused rather than guessed at.
 */
export function publicKeyFromDidKey(did: string): Uint8Array {
  if (!did.startsWith(DID_KEY_PREFIX)) {
    throw invalid(did, 'it must start with "did:key:z" (base58btc multibase)');
  }
  let bytes: Uint8Array;
  try {
    bytes = base58btcDecode(did.slice(DID_KEY_PREFIX.length));
  } catch (error) {
    throw invalid(did, error instanceof Error ? error.message : 'not base58btc');
  }
  if (bytes[0] !== ED25519_PUB_PREFIX[0] || bytes[1] !== ED25519_PUB_PREFIX[1]) {
    throw invalid(did, 'its multicodec is not ed25519-pub (0xed 0x01)');
  }
  const key = bytes.subarray(ED25519_PUB_PREFIX.length);
  if (key.length !== 32) throw invalid(did, `an Ed25519 key is 32 bytes, this one has ${key.length}`);
  return new Uint8Array(key);
}

export function isDidKey(value: string): boolean {
  try {
    publicKeyFromDidKey(value);
    return true;
  } catch {
    return false;
  }
}

function invalid(did: string, why: string): OacpError<IdentityErrorCode> {
  // A did:key is public, but cap what we echo so a pasted blob cannot flood a terminal.
  const shown = did.length > 80 ? `${did.slice(0, 80)}...` : did;
  return new OacpError('IDENTITY_DID_INVALID', `not an Ed25519 did:key (${shown}): ${why}`);
}
