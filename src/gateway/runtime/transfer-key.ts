import { DERIVED_KEY_LABELS, derivedSeed } from '../../cluster/derived-key.js';
import {
  generateEd25519,
  keySigner,
  privateKeyFromSeed,
  rawPrivateSeed,
  type Signer,
} from '../../core/ed25519.js';
import { didKeyFromPublicKey } from '../../identity/did-key.js';

/**
 * A cluster node's transfer key: an Ed25519 key whose did:key is published in
 * the node's member record; migrating agent state is encrypted to it (X25519
 * derived per RFC 7748, src/a2a/x25519.ts) and the envelopes this node sends
 * are signed with it. It is derived from the node's log key (sealed in the
 * home under the master key), so it is the same after a restart: state sealed
 * to the node before a kill -9 still opens in the next process.
 */
export class TransferKey {
  readonly did: string;
  readonly signer: Signer;
  readonly #seed: Uint8Array;

  private constructor(signer: Signer, seed: Uint8Array) {
    this.signer = signer;
    this.#seed = seed;
    this.did = didKeyFromPublicKey(signer.publicKey);
  }

  /** The node's durable transfer key, derived from its log key (src/cluster/derived-key.ts). */
  static derive(logSigner: Signer): TransferKey {
    const seed = derivedSeed(logSigner, DERIVED_KEY_LABELS.transfer);
    return new TransferKey(keySigner(privateKeyFromSeed(seed)), seed);
  }

  /** A throwaway key (tests, and nodes that keep no home). */
  static generate(): TransferKey {
    const { privateKey } = generateEd25519();
    return new TransferKey(keySigner(privateKey), rawPrivateSeed(privateKey));
  }

  /** The seed, for decrypting one envelope; never logged or sent. */
  seed(): Uint8Array {
    return this.#seed;
  }
}
