import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OacpError } from '../core/errors.js';
import { canonicalize } from '../core/jcs.js';
import type { IdentityErrorCode } from './errors.js';

/** What a sealed key is for; part of the AAD, so an airlock key cannot be passed off as a log key. */
export type KeyKind = 'airlock' | 'log' | 'agent';

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be standard base64');
const bytesOf = (length: number) =>
  Base64.refine((text) => Buffer.from(text, 'base64').length === length, `must decode to ${length} bytes`);

/** One Ed25519 private key, encrypted at rest with AES-256-GCM under a key derived from the master key. */
export const SealedKeySchema = z.strictObject({
  version: z.literal(1),
  kind: z.enum(['airlock', 'log', 'agent']),
  name: z.string().min(1),
  alg: z.literal('ed25519'),
  publicKey: bytesOf(32),
  did: z.string().optional(),
  /** Identifies (does not reveal) the master key that sealed this file, to tell "wrong key" from "altered file". */
  masterKeyId: z.string().regex(/^[0-9a-f]{16}$/),
  nonce: bytesOf(12),
  ciphertext: bytesOf(32),
  tag: bytesOf(16),
  createdAt: z.iso.datetime(),
});
export type SealedKey = z.infer<typeof SealedKeySchema>;

const KEYSTORE_INFO = 'oacp/keystore/v1/aes-256-gcm';
const MASTER_ID_INFO = 'oacp/keystore/v1/master-key-id';

/** A separate key per use, so the raw master key never meets AES directly and could later serve other purposes. */
function encryptionKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), KEYSTORE_INFO, 32));
}

export function masterKeyId(masterKey: Uint8Array): string {
  return Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), MASTER_ID_INFO, 8)).toString('hex');
}

/**
 * The AAD binds the ciphertext to the file's purpose, name and public key (and
 * to everything else that is public in the file): swapping two key files, or
 * editing a public key to someone else's, makes decryption fail.
 */
function aad(header: Omit<SealedKey, 'nonce' | 'ciphertext' | 'tag'>): Buffer {
  return Buffer.from(canonicalize({ purpose: 'oacp/keystore/v1', ...header }), 'utf8');
}

export interface SealInput {
  readonly kind: KeyKind;
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
  readonly did?: string;
  readonly createdAt: string;
}

export function sealKey(masterKey: Uint8Array, input: SealInput): SealedKey {
  const header = {
    version: 1 as const,
    kind: input.kind,
    name: input.name,
    alg: 'ed25519' as const,
    publicKey: Buffer.from(input.publicKey).toString('base64'),
    ...(input.did === undefined ? {} : { did: input.did }),
    masterKeyId: masterKeyId(masterKey),
    createdAt: input.createdAt,
  };
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey(masterKey), nonce);
  cipher.setAAD(aad(header));
  const ciphertext = Buffer.concat([cipher.update(input.seed), cipher.final()]);
  return {
    ...header,
    nonce: nonce.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

export function parseSealedKey(text: string, where: string): SealedKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OacpError<IdentityErrorCode>('IDENTITY_KEY_FILE_INVALID', `${where} is not JSON`);
  }
  const parsed = SealedKeySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'file';
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_KEY_FILE_INVALID',
      `${where} is not an OACP key file: ${field}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/**
 * Decrypts the private seed. `expected` comes from where the file was found, not
 * from the file, so a file renamed into another slot fails authentication.
 */
export function unsealKey(
  masterKey: Uint8Array,
  sealed: SealedKey,
  expected: { kind: KeyKind; name: string },
  where: string,
): Uint8Array {
  if (sealed.kind !== expected.kind || sealed.name !== expected.name) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_KEY_FILE_TAMPERED',
      `${where} holds the ${sealed.kind} key "${sealed.name}", not the ${expected.kind} key "${expected.name}"; was it moved or swapped?`,
    );
  }
  const { nonce, ciphertext, tag, ...header } = sealed;
  try {
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey(masterKey), Buffer.from(nonce, 'base64'), {
      authTagLength: 16,
    });
    decipher.setAAD(aad({ ...header, kind: expected.kind, name: expected.name }));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return new Uint8Array(
      Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]),
    );
  } catch {
    // GCM cannot say why it failed; the master key id in the file tells a wrong key from an altered file.
    const ourId = masterKeyId(masterKey);
    if (sealed.masterKeyId !== ourId) {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_MASTER_KEY_WRONG',
        `cannot decrypt ${where}: AES-GCM authentication failed because the master key is wrong (the file was sealed under master key ${sealed.masterKeyId}, the one in use is ${ourId}); check OACP_MASTER_KEY or master.key`,
      );
    }
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_KEY_FILE_TAMPERED',
      `cannot decrypt ${where}: AES-GCM authentication failed although the master key matches; the file was altered`,
    );
  }
}
