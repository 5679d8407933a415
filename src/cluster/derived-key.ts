import { createHash } from 'node:crypto';
import type { Signer } from '../core/ed25519.js';
import { privateKeyTexts } from '../identity/private-key-texts.js';

/** The label of each key a node derives from its log key (derivedSeed); one per role. */
export const DERIVED_KEY_LABELS = {
  witness: 'oacp/witness-key/v1',
  transfer: 'oacp/transfer-key/v1',
  nodeTls: 'oacp/node-tls-key/v1',
} as const;

/**
 * A node key with no second secret to store: the SHA-256 of the log key's (deterministic,
 * RFC 8032) Ed25519 signature over a text used for nothing but this derivation. A checkpoint
 * body has an origin, a size and a root on three lines, so no checkpoint is ever one of these
 * texts. Only the holder of the log key (sealed in the home) can compute the seed, the same
 * after every restart; its public half says nothing of the log key. Each role has its label:
 * `oacp/witness-key/v1`, `oacp/transfer-key/v1`, `oacp/node-tls-key/v1`.
 */
export function derivedSeed(logSigner: Signer, label: string): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(logSigner.sign(new TextEncoder().encode(label)))
      .digest(),
  );
}

/**
 * The text forms (privateKeyTexts) of every key derived from this log key: the node's own
 * keys, to pin in its SecretValues so no log line or error answer shows one. Never to print.
 */
export function derivedKeyTexts(logSigner: Signer): string[] {
  return Object.values(DERIVED_KEY_LABELS).flatMap((label) => {
    const seed = derivedSeed(logSigner, label);
    try {
      return privateKeyTexts(seed);
    } finally {
      seed.fill(0);
    }
  });
}
