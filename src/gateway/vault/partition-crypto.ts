import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { canonicalize } from '../../core/jcs.js';

/**
 * The cryptography of one context partition. Its keys come from
 * HKDF-SHA256(master key, partition salt, purpose + agent id): the master key
 * alone is not enough, so forgetting the random salt forgets the keys
 * (crypto-shredding), while the agent id in `info` keeps two partitions'
 * keys apart even if their salts were equal.
 */

export const SALT_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type PartitionPurpose = 'context' | 'checkpoint';

export function newSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_BYTES));
}

export function partitionKey(
  masterKey: Uint8Array,
  salt: Uint8Array,
  agentId: string,
  purpose: PartitionPurpose,
): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, `oacp/${purpose}/v1\u0000${agentId}`, 32));
}

/**
 * AAD naming what a ciphertext is: a context value sealed for (agent, key)
 * fails to open as any other key or in any other partition.
 */
export function contextAad(agentId: string, key: string): Buffer {
  return Buffer.from(canonicalize({ purpose: 'oacp/context/v1', agent: agentId, key }), 'utf8');
}

export function checkpointAad(agentId: string): Buffer {
  return Buffer.from(canonicalize({ purpose: 'oacp/checkpoint/v1', agent: agentId }), 'utf8');
}

export interface Sealed {
  readonly nonce: Uint8Array;
  /** Ciphertext with the GCM tag appended. */
  readonly ciphertext: Uint8Array;
}

export function seal(key: Buffer, aad: Buffer, plaintext: Uint8Array): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: new Uint8Array(nonce), ciphertext: new Uint8Array(body) };
}

/** The plaintext, or undefined when authentication fails (wrong key, wrong AAD, altered bytes). */
export function open(key: Buffer, aad: Buffer, sealed: Sealed): Uint8Array | undefined {
  if (sealed.nonce.length !== NONCE_BYTES || sealed.ciphertext.length < TAG_BYTES) return undefined;
  const body = Buffer.from(sealed.ciphertext);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.nonce), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return new Uint8Array(
      Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]),
    );
  } catch {
    return undefined;
  }
}
