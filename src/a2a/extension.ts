import { z } from 'zod';
import { SignatureSchema } from '../attest/dsse.js';
import { Sha256HexSchema } from '../attest/statement.js';
import { isDidKey } from '../identity/did-key.js';
import { SignedRequestSchema } from '../identity/signed-request.js';

/**
 * The OACP attestation extension (docs/a2a.md). One URI names it everywhere:
 * in the card's `capabilities.extensions`, as the key of OACP's entry in
 * message and artifact metadata, and in the `A2A-Extensions` header.
 */
export const OACP_A2A_EXTENSION = 'https://oacp.dev/a2a/attestation/v1';

const DidKey = z.string().max(128).refine(isDidKey, 'must be an Ed25519 did:key');
const Base64Key = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be the base64 of a 32-byte Ed25519 public key');
const HttpUrl = z
  .string()
  .max(2048)
  .refine((text) => {
    try {
      const url = new URL(text.replace('{index}', '0'));
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

/** Isolation tiers, as receipts name them. */
export const A2aTierSchema = z.enum(['light', 'standard', 'hardened', 'gvisor', 'tee']);
export type A2aTier = z.infer<typeof A2aTierSchema>;

/**
 * What the card's extension entry declares. Lenient on extra members (a later
 * version may add some; they are still covered by the card signature), strict
 * on the ones read.
 */
export const AttestationParamsSchema = z.object({
  /** The agent's identity; the card must be signed by this key. */
  did: DidKey,
  /** The sandbox tier its code runs in. */
  tier: A2aTierSchema,
  /** sha256 (hex) of the JCS form of the agent's effective capability manifest. */
  manifestDigest: Sha256HexSchema,
  /** Airlock keys (base64 raw Ed25519) that sign this node's receipts. */
  airlockKeys: z.array(Base64Key).min(1).max(8),
  /** Where receipt N can be fetched with its inclusion proof: a URL with `{index}`. */
  receipts: HttpUrl.refine((text) => text.includes('{index}'), 'must contain {index}'),
  log: z.object({
    /** The transparency log's origin line. */
    origin: z.string().min(1).max(256),
    /** The log's C2SP verifier key, to check checkpoints and inclusion proofs. */
    verifierKey: z.string().min(1).max(512),
    /** The published checkpoint (c2sp tlog-tiles). */
    checkpoint: HttpUrl,
  }),
  /** Whether this agent refuses messages without an OACP signature. */
  signedMessagesRequired: z.boolean(),
});
export type AttestationParams = z.infer<typeof AttestationParamsSchema>;

/** OACP's entry in a message's metadata: the sender's signature and what it asks for. */
export const MessageExtensionSchema = z.strictObject({
  /** A trust-core signed request over the message (docs/a2a.md, "Signed messages"). */
  signature: SignedRequestSchema,
  /** Encrypt result artifacts to this did:key (usually the sender's own). */
  encryptTo: DidKey.optional(),
});
export type MessageExtension = z.infer<typeof MessageExtensionSchema>;

/** OACP's entry in a cancel request's metadata. */
export const CancelExtensionSchema = z.strictObject({ signature: SignedRequestSchema });

/** Where an artifact's execution receipt is, and the receipt itself. */
export const ArtifactReceiptSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  /** The log origin that holds it. */
  origin: z.string().min(1).max(256),
  /** Where to fetch it with its inclusion proof. */
  url: HttpUrl,
  /** The DSSE envelope, so the caller can check signatures without a round trip. */
  envelope: z.object({
    payload: z.string(),
    payloadType: z.string(),
    signatures: z.array(SignatureSchema),
  }),
});
export type ArtifactReceipt = z.infer<typeof ArtifactReceiptSchema>;

export const ArtifactExtensionSchema = z.strictObject({
  receipt: ArtifactReceiptSchema,
  /** Present when the parts are one JWE for `recipient`. */
  encrypted: z
    .strictObject({
      recipient: DidKey,
      alg: z.literal('ECDH-ES'),
      enc: z.literal('A256GCM'),
    })
    .optional(),
});
export type ArtifactExtension = z.infer<typeof ArtifactExtensionSchema>;

/**
 * What an agent's program is given for one A2A message (`main(input)`): its
 * digest is the receipt's inputsDigest, so a caller can recompute it.
 */
export interface A2aTaskInput {
  readonly messageId: string;
  /** The text parts, joined by newlines. */
  readonly text: string;
  /** The data parts' values, in order. */
  readonly data: readonly unknown[];
  /** The verified sender's did:key; null when the message was unsigned and allowed. */
  readonly from: string | null;
}

/** What one run produced; its JCS digest is the receipt's outputsDigest. */
export interface A2aTaskOutput {
  readonly value: unknown;
  readonly logs: readonly string[];
}
