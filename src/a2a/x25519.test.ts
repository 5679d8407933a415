import { createPublicKey, diffieHellman } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateEd25519, rawPrivateSeed, rawPublicKey } from '../core/ed25519.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { decryptWithSeed, encryptToDid } from './artifact-encryption.js';
import { x25519KeyPairFromEd25519Seed, x25519PublicFromEd25519, x25519PublicKeyObject } from './x25519.js';

function edKeys() {
  const { privateKey, publicKey } = generateEd25519();
  return { seed: rawPrivateSeed(privateKey), pub: rawPublicKey(publicKey) };
}

describe('X25519 from Ed25519 (RFC 7748 §4.1 birational map)', () => {
  it('maps the public key to the public half of the key pair the seed implies', () => {
    for (let i = 0; i < 20; i++) {
      const { seed, pub } = edKeys();
      const fromPublic = Buffer.from(x25519PublicFromEd25519(pub)).toString('base64url');
      const fromSeed = createPublicKey(x25519KeyPairFromEd25519Seed(seed).privateKey).export({
        format: 'jwk',
      }).x;
      expect(fromPublic).toBe(fromSeed);
    }
  });

  it('lets two agents derive the same shared secret from their did:keys', () => {
    const alice = edKeys();
    const bob = edKeys();
    const aliceSide = diffieHellman({
      privateKey: x25519KeyPairFromEd25519Seed(alice.seed).privateKey,
      publicKey: x25519PublicKeyObject(x25519PublicFromEd25519(bob.pub)),
    });
    const bobSide = diffieHellman({
      privateKey: x25519KeyPairFromEd25519Seed(bob.seed).privateKey,
      publicKey: x25519PublicKeyObject(x25519PublicFromEd25519(alice.pub)),
    });
    expect(aliceSide.equals(bobSide)).toBe(true);
    expect(aliceSide.every((byte) => byte === 0)).toBe(false);
  });

  it('matches a known vector: the RFC 8032 test 1 key', () => {
    // RFC 8032 §7.1 TEST 1 public key; its Montgomery form checked independently (libsodium crypto_sign_ed25519_pk_to_curve25519).
    const pub = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    expect(Buffer.from(x25519PublicFromEd25519(pub)).toString('hex')).toBe(
      'd85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e',
    );
  });

  it('refuses keys that are not 32 bytes, not canonical, or the identity point', () => {
    expect(() => x25519PublicFromEd25519(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => x25519PublicFromEd25519(Buffer.alloc(32, 0xff))).toThrow(/canonically/);
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(() => x25519PublicFromEd25519(identity)).toThrow(/identity/);
  });
});

describe('artifact encryption (JWE ECDH-ES + A256GCM to a did:key)', () => {
  it('round-trips to the recipient and nobody else', async () => {
    const bob = edKeys();
    const eve = edKeys();
    const jwe = await encryptToDid(Buffer.from('{"value":42}'), didKeyFromPublicKey(bob.pub));
    expect(jwe.split('.')).toHaveLength(5);
    const header = JSON.parse(Buffer.from(jwe.split('.')[0] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: didKeyFromPublicKey(bob.pub) });
    expect(Buffer.from(await decryptWithSeed(jwe, bob.seed)).toString()).toBe('{"value":42}');
    await expect(decryptWithSeed(jwe, eve.seed)).rejects.toMatchObject({ code: 'A2A_DECRYPTION_FAILED' });
  });

  it('refuses a tampered ciphertext', async () => {
    const bob = edKeys();
    const jwe = await encryptToDid(Buffer.from('secret result'), didKeyFromPublicKey(bob.pub));
    const parts = jwe.split('.');
    const ciphertext = Buffer.from(parts[3] ?? '', 'base64url');
    ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
    parts[3] = ciphertext.toString('base64url');
    await expect(decryptWithSeed(parts.join('.'), bob.seed)).rejects.toMatchObject({
      code: 'A2A_DECRYPTION_FAILED',
    });
  });
});
