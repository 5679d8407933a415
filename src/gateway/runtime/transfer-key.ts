import { generateEd25519, keySigner, rawPrivateSeed, type Signer } from '../../core/ed25519.js';
import { didKeyFromPublicKey } from '../../identity/did-key.js';

/**
 * A cluster node's transfer key: an Ed25519 key made when the gateway joins
 * and held only in this process's memory. Its did:key is published in the
 * node's member record; migrating agent state is encrypted to it (X25519
 * derived per RFC 7748, src/a2a/x25519.ts) and the envelopes this node sends
 * are signed with it. A restarted node has a new key, so state sealed to a
 * previous process cannot be opened by the next one.
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

  static generate(): TransferKey {
    const { privateKey } = generateEd25519();
    return new TransferKey(keySigner(privateKey), rawPrivateSeed(privateKey));
  }

  /** The seed, for decrypting one envelope; never logged or sent. */
  seed(): Uint8Array {
    return this.#seed;
  }
}
