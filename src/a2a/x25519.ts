import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { a2aError } from './errors.js';

/**
 * An agent has one key, its did:key (Ed25519); encrypting to it needs X25519.
 * The two curves are birationally equivalent (RFC 7748 §4.1), so the Ed25519
 * public point maps to a Montgomery u-coordinate and the Ed25519 seed hashes to
 * the same scalar Ed25519 itself uses, so both sides agree without a second
 * published key. Written with BigInt: no library here exposes the conversion.
 */

const P = 2n ** 255n - 19n;

function mod(value: bigint): bigint {
  const r = value % P;
  return r < 0n ? r + P : r;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

function bigIntToLittleEndian(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** u = (1 + y) / (1 - y) mod p, from the 32-byte Ed25519 public key (y with the sign bit cleared). */
export function x25519PublicFromEd25519(edPublicKey: Uint8Array): Uint8Array {
  if (edPublicKey.length !== 32) {
    throw a2aError('A2A_KEY_INVALID', `an Ed25519 public key is 32 bytes, got ${edPublicKey.length}`);
  }
  const encoded = new Uint8Array(edPublicKey);
  encoded[31] = (encoded[31] ?? 0) & 0x7f;
  const y = littleEndianToBigInt(encoded);
  if (y >= P) throw a2aError('A2A_KEY_INVALID', 'the Ed25519 public key is not canonically encoded');
  const denominator = mod(1n - y);
  // y = 1 is the neutral point: no agent key, and the map divides by zero.
  if (denominator === 0n) throw a2aError('A2A_KEY_INVALID', 'the Ed25519 public key is the identity point');
  const u = mod((1n + y) * power(denominator, P - 2n));
  return bigIntToLittleEndian(u, 32);
}

/** The X25519 private scalar: SHA-512(seed)[0..32], clamped per RFC 7748 (what Ed25519 signs with). */
export function x25519PrivateFromEd25519Seed(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) {
    throw a2aError('A2A_KEY_INVALID', `an Ed25519 private seed is 32 bytes, got ${seed.length}`);
  }
  const scalar = new Uint8Array(createHash('sha512').update(seed).digest().subarray(0, 32));
  scalar[0] = (scalar[0] ?? 0) & 248;
  scalar[31] = ((scalar[31] ?? 0) & 127) | 64;
  return scalar;
}

export function x25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** RFC 8410 PKCS#8 header of an X25519 private key; the 32-byte scalar follows. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The X25519 key pair an Ed25519 seed implies, as KeyObjects for node:crypto and jose. */
export function x25519KeyPairFromEd25519Seed(seed: Uint8Array): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  const scalar = x25519PrivateFromEd25519Seed(seed);
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, scalar]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
