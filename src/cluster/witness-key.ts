import { keySigner, privateKeyFromSeed, type Signer } from '../core/ed25519.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../log/note-keys.js';
import { DERIVED_KEY_LABELS, derivedSeed } from './derived-key.js';

/**
 * The node's cosigning key (c2sp.org/tlog-cosignature), kept apart from its log key as the
 * spec's separate key role wants, yet with no second secret to store: its seed is the SHA-256
 * of the log key's (deterministic, RFC 8032) Ed25519 signature over a fixed derivation text.
 * Only the holder of the log key can compute it; its public half says nothing of the log key.
 */
export function nodeWitnessSigner(logSigner: Signer): Signer {
  return keySigner(privateKeyFromSeed(derivedSeed(logSigner, DERIVED_KEY_LABELS.witness)));
}

/** The witness name a node cosigns under: its log origin with a `/witness` suffix. */
export function witnessName(origin: string): string {
  return `${origin}/witness`;
}

/** The node's type 0x04 vkey, as peers list it (`witness_key` in oacp.yaml, the etcd member record). */
export function witnessVerifierKey(origin: string, witness: Signer): string {
  return formatVerifierKey(witnessName(origin), SIG_TYPE_COSIGNATURE_V1, witness.publicKey);
}
