import { createHash } from 'node:crypto';
import { z } from 'zod';
import { verifyEd25519 } from '../../core/ed25519.js';
import { publicKeyFromDidKey } from '../../identity/did-key.js';

/** The catalog's public key as shipped (catalog/catalog-key.json). */
export const CatalogKeySchema = z.strictObject({
  /** did:key of the Ed25519 key that signs every entry. */
  did: z.string().startsWith('did:key:'),
  note: z.string(),
});

/** `<entry>.yaml.sig`: an Ed25519 signature over the entry file's exact bytes. */
export const CatalogSignatureSchema = z.strictObject({
  did: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});

export type CatalogSignature = z.output<typeof CatalogSignatureSchema>;

/** Whether `signature` is the catalog key's over exactly `bytes`; a reason when not. */
export function checkSignature(
  bytes: Uint8Array,
  signature: CatalogSignature,
  keyDid: string,
): { ok: true } | { ok: false; reason: string } {
  if (signature.did !== keyDid)
    return { ok: false, reason: `signed by ${signature.did}, not the catalog key` };
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== signature.sha256) return { ok: false, reason: 'the file changed after it was signed' };
  let key: Uint8Array;
  try {
    key = publicKeyFromDidKey(keyDid);
  } catch {
    return { ok: false, reason: 'the catalog key is not a valid Ed25519 did:key' };
  }
  return verifyEd25519(key, bytes, Buffer.from(signature.signature, 'base64'))
    ? { ok: true }
    : { ok: false, reason: 'the signature does not verify under the catalog key' };
}
