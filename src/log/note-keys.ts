import { createHash, type KeyObject } from 'node:crypto';
import { publicKeyFromRaw, type Signer, verifyEd25519 } from '../core/ed25519.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { logError } from './errors.js';
import { isValidKeyName } from './note-format.js';

/** Signature type bytes from c2sp.org/signed-note that OACP uses. */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** Produces one signature line's worth of bytes over a note's text. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** Checks one signature from the key identified by (name, keyId) over a note's text. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** key ID = SHA-256(key name || 0x0A || signature type || public key)[:4], big-endian. */
export function noteKeyId(name: string, sigType: number, publicKey: Uint8Array): number {
  const digest = createHash('sha256')
    .update(name, 'utf8')
    .update(new Uint8Array([0x0a, sigType]))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

/** `<name>+<hex8 key ID>+base64(type || public key)`. */
export function formatVerifierKey(name: string, sigType: number, publicKey: Uint8Array): string {
  const id = noteKeyId(name, sigType, publicKey).toString(16).padStart(8, '0');
  const material = new Uint8Array(1 + publicKey.length);
  material[0] = sigType;
  material.set(publicKey, 1);
  return `${name}+${id}+${encodeBase64(material)}`;
}

export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly sigType: number;
  readonly publicKey: Uint8Array;
}

/** Parses a vkey strictly: Ed25519 key material, lowercase hex ID, and an ID that matches the key. */
export function parseVerifierKey(vkey: string): VerifierKey {
  // Split at the first two pluses only: the base64 part may itself contain "+".
  const match = typeof vkey === 'string' ? /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey) : null;
  const [, name, idHex, encoded] = match ?? [];
  if (name === undefined || idHex === undefined || encoded === undefined) {
    throw logError('LOG_MALFORMED_VKEY', 'a verifier key has three parts separated by "+"');
  }
  if (!isValidKeyName(name))
    throw logError(
      'LOG_MALFORMED_VKEY',
      'the verifier key name is empty or has a space, "+" or a control character',
    );
  if (!/^[0-9a-f]{8}$/.test(idHex))
    throw logError('LOG_MALFORMED_VKEY', 'the key ID is not 8 lowercase hex digits');
  const material = decodeBase64(encoded);
  if (material === undefined) throw logError('LOG_MALFORMED_VKEY', 'the key material is not base64');
  const [sigType] = material;
  if (sigType !== SIG_TYPE_ED25519 && sigType !== SIG_TYPE_COSIGNATURE_V1) {
    throw logError('LOG_MALFORMED_VKEY', `unsupported signature type ${String(sigType)}`);
  }
  const publicKey = material.slice(1);
  if (publicKey.length !== 32) throw logError('LOG_MALFORMED_VKEY', 'an Ed25519 key is 32 bytes');
  const keyId = Number.parseInt(idHex, 16);
  if (keyId !== noteKeyId(name, sigType, publicKey)) {
    throw logError('LOG_MALFORMED_VKEY', `key ID ${idHex} does not match the key`);
  }
  return { name, keyId, sigType, publicKey };
}

/** Loads raw Ed25519 key bytes, reporting bad bytes as a malformed vkey. */
export function ed25519Key(publicKey: Uint8Array): KeyObject {
  try {
    return publicKeyFromRaw(publicKey);
  } catch (error) {
    throw logError('LOG_MALFORMED_VKEY', 'the key is not a usable Ed25519 public key', error);
  }
}

/** A note signer producing plain Ed25519 (type 0x01) signatures, e.g. a log signing its checkpoints. */
export function ed25519NoteSigner(name: string, signer: Signer): NoteSigner {
  if (!isValidKeyName(name))
    throw logError(
      'LOG_MALFORMED_VKEY',
      'a key name must be non-empty without spaces, "+" or control characters',
    );
  return {
    name,
    keyId: noteKeyId(name, SIG_TYPE_ED25519, signer.publicKey),
    sign: (text) => signer.sign(text),
  };
}

/** A note verifier for a type 0x01 Ed25519 vkey. */
export function ed25519NoteVerifier(vkey: string | VerifierKey): NoteVerifier {
  const key = typeof vkey === 'string' ? parseVerifierKey(vkey) : vkey;
  if (key.sigType !== SIG_TYPE_ED25519) {
    throw logError('LOG_MALFORMED_VKEY', `key ${key.name} is not a type 0x01 Ed25519 note key`);
  }
  const publicKey = ed25519Key(key.publicKey);
  return {
    name: key.name,
    keyId: key.keyId,
    verify: (text, signature) => verifyEd25519(publicKey, text, signature),
  };
}
