import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { OacpError } from './errors.js';

export type KeyErrorCode = 'KEY_INVALID';

/** Anything that can produce Ed25519 signatures: a key in memory today, an HSM later. */
export interface Signer {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

// DER prefixes of the fixed-size Ed25519 SubjectPublicKeyInfo / PKCS#8 structures (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function generateEd25519(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

export function rawPrivateSeed(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(PKCS8_PREFIX.length));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32)
    throw new OacpError('KEY_INVALID', `an Ed25519 public key is 32 bytes, got ${raw.length}`);
  // The JWK route is ~10x faster than parsing DER here, and verifiers convert a key per check.
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32)
    throw new OacpError('KEY_INVALID', `an Ed25519 private seed is 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function publicKeyFromPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new OacpError('KEY_INVALID', 'not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new OacpError('KEY_INVALID', `expected an Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

export function publicKeyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

// Keyed by a symbol and read only through signerKeyObject, so handing the key on is explicit and greppable.
const KEY_OBJECT = Symbol('oacp.ed25519.keyObject');

/** A Signer over a private KeyObject held in memory. */
export function keySigner(privateKey: KeyObject): Signer {
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  const signer: Signer = {
    publicKey,
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
  // Non-enumerable: spreading, printing or serializing a signer never carries the key along.
  Object.defineProperty(signer, KEY_OBJECT, { value: privateKey });
  return signer;
}

/**
 * The in-memory private key behind a keySigner, so worker threads can receive a
 * clone of it (KeyObjects cross threads by structured clone, the seed never
 * appears as bytes); undefined for any other Signer, such as an HSM's.
 */
export function signerKeyObject(signer: Signer): KeyObject | undefined {
  const key: unknown = (signer as { [KEY_OBJECT]?: unknown })[KEY_OBJECT];
  return key instanceof KeyObject && key.type === 'private' && key.asymmetricKeyType === 'ed25519'
    ? key
    : undefined;
}

export function verifyEd25519(
  publicKey: KeyObject | Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  const key = publicKey instanceof Uint8Array ? publicKeyFromRaw(publicKey) : publicKey;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
