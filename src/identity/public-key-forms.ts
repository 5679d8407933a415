import { sha256Hex } from '../core/digest.js';
import { publicKeyFromRaw, publicKeyToPem } from '../core/ed25519.js';
import { didKeyFromPublicKey } from './did-key.js';

/** One Ed25519 public key in every form OACP hands out (`oacp keys export`). */
export interface PublicKeyForms {
  /** Raw 32 bytes. */
  readonly raw: Uint8Array;
  /** Standard base64 of the raw bytes. */
  readonly base64: string;
  /** SubjectPublicKeyInfo PEM (RFC 8410), what openssl and most libraries read. */
  readonly pem: string;
  readonly didKey: string;
  /** Short name for logs and messages: "ed25519:" + first 16 hex of sha256(raw). */
  readonly fingerprint: string;
}

export function publicKeyForms(raw: Uint8Array): PublicKeyForms {
  return {
    raw: new Uint8Array(raw),
    base64: Buffer.from(raw).toString('base64'),
    pem: publicKeyToPem(publicKeyFromRaw(raw)),
    didKey: didKeyFromPublicKey(raw),
    fingerprint: keyFingerprint(raw),
  };
}

export function keyFingerprint(raw: Uint8Array): string {
  return `ed25519:${sha256Hex(raw).slice(0, 16)}`;
}
