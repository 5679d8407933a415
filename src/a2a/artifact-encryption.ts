import { CompactEncrypt, compactDecrypt } from 'jose';
import { publicKeyFromDidKey } from '../identity/did-key.js';
import { a2aError } from './errors.js';
import { x25519KeyPairFromEd25519Seed, x25519PublicFromEd25519, x25519PublicKeyObject } from './x25519.js';

/**
 * Artifacts for one reader: a compact JWE (RFC 7516) with ECDH-ES key agreement
 * (RFC 7518 §4.6, direct) and A256GCM, to the X25519 key the recipient's
 * did:key implies. The protected header names the recipient so a reader can
 * tell which of its keys to use; it is authenticated by the GCM tag.
 */

export const JWE_ALG = 'ECDH-ES';
export const JWE_ENC = 'A256GCM';

export async function encryptToDid(plaintext: Uint8Array, recipientDid: string): Promise<string> {
  try {
    const key = x25519PublicKeyObject(x25519PublicFromEd25519(publicKeyFromDidKey(recipientDid)));
    return await new CompactEncrypt(plaintext)
      .setProtectedHeader({ alg: JWE_ALG, enc: JWE_ENC, kid: recipientDid, cty: 'application/json' })
      .encrypt(key);
  } catch (error) {
    throw a2aError(
      'A2A_ENCRYPTION_FAILED',
      `cannot encrypt to ${recipientDid}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/** Decrypts with the Ed25519 seed behind the recipient's did:key; refuses any other alg/enc. */
export async function decryptWithSeed(jwe: string, seed: Uint8Array): Promise<Uint8Array> {
  try {
    const { privateKey } = x25519KeyPairFromEd25519Seed(seed);
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey, {
      keyManagementAlgorithms: [JWE_ALG],
      contentEncryptionAlgorithms: [JWE_ENC],
    });
    if (protectedHeader.alg !== JWE_ALG || protectedHeader.enc !== JWE_ENC) {
      throw new Error(`unexpected ${String(protectedHeader.alg)}/${String(protectedHeader.enc)}`);
    }
    return plaintext;
  } catch (error) {
    // jose's messages name algorithms and failures only, never key material.
    throw a2aError(
      'A2A_DECRYPTION_FAILED',
      `cannot decrypt the artifact: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
