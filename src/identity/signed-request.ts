import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { sha256 } from '../core/digest.js';
import type { Signer } from '../core/ed25519.js';
import { verifyEd25519 } from '../core/ed25519.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from './did-key.js';
import type { NonceStore } from './nonce-store.js';

/** Separates these signatures from every other thing an agent key signs (receipts, notes). */
export const SIGNED_REQUEST_DOMAIN = 'oacp/signed-request/v1';
export const DEFAULT_MAX_SKEW_MS = 300_000;

const CanonicalBase64Url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be unpadded base64url')
    // One spelling per value: otherwise a replay could dodge the nonce cache by re-spelling the nonce.
    .refine((text) => {
      const decoded = Buffer.from(text, 'base64url');
      return decoded.length === bytes && decoded.toString('base64url') === text;
    }, `must be the canonical base64url of ${bytes} bytes`);

/** What travels with a request (as JSON: a header or a body field, the transport decides). */
export const SignedRequestSchema = z.strictObject({
  version: z.literal(1),
  /** What the request does, e.g. "POST /v1/tools/call"; a signature for one purpose authorizes no other. */
  purpose: z.string().min(1).max(512),
  /** The signer's did:key, so a server can find which registered key to check it against. */
  signer: z.string().startsWith('did:key:z').max(128),
  /** sha256 (hex) of the exact payload bytes. */
  payloadDigest: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  /** Unix time in milliseconds when the request was signed. */
  timestamp: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** 128 random bits. */
  nonce: CanonicalBase64Url(16),
  /** Ed25519 signature over `signedRequestMessage`. */
  signature: CanonicalBase64Url(64),
});
export type SignedRequest = z.infer<typeof SignedRequestSchema>;

export type RequestVerdict =
  | {
      readonly ok: true;
      readonly reason: string;
      readonly signer: string;
      readonly purpose: string;
      readonly timestamp: number;
    }
  | { readonly ok: false; readonly reason: string };

export interface SignRequestInput {
  readonly purpose: string;
  readonly payload: Uint8Array | string;
  readonly now?: () => number;
}

export interface VerifyRequestOptions {
  /** The key the caller trusts for this signer: raw 32 bytes or its did:key. Never taken from the request. */
  readonly publicKey: Uint8Array | string;
  /** The payload bytes as received; their digest must match the signed one. */
  readonly payload: Uint8Array | string;
  /** The purpose the server is about to act on. */
  readonly purpose: string;
  readonly nonces: NonceStore;
  readonly now?: () => number;
  readonly maxSkewMs?: number;
}

/**
 * The signed bytes: each field length-prefixed (u32 big-endian), so no choice of
 * purpose string can make two different requests encode alike. The timestamp is
 * a u64 big-endian; digests, keys and nonces are raw bytes.
 */
export function signedRequestMessage(fields: {
  purpose: string;
  signerKey: Uint8Array;
  payloadDigest: Uint8Array;
  timestamp: number;
  nonce: Uint8Array;
}): Buffer {
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(fields.timestamp));
  const parts = [
    Buffer.from(SIGNED_REQUEST_DOMAIN, 'utf8'),
    Buffer.from(fields.purpose, 'utf8'),
    Buffer.from(fields.signerKey),
    Buffer.from(fields.payloadDigest),
    timestamp,
    Buffer.from(fields.nonce),
  ];
  return Buffer.concat(
    parts.flatMap((part) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(part.length);
      return [length, part];
    }),
  );
}

export function signRequest(signer: Signer, input: SignRequestInput): SignedRequest {
  const timestamp = Math.floor((input.now ?? Date.now)());
  const nonce = randomBytes(16);
  const payloadDigest = sha256(input.payload);
  const message = signedRequestMessage({
    purpose: input.purpose,
    signerKey: signer.publicKey,
    payloadDigest,
    timestamp,
    nonce,
  });
  return {
    version: 1,
    purpose: input.purpose,
    signer: didKeyFromPublicKey(signer.publicKey),
    payloadDigest: payloadDigest.toString('hex'),
    timestamp,
    nonce: nonce.toString('base64url'),
    signature: Buffer.from(signer.sign(message)).toString('base64url'),
  };
}

/**
 * Checks, in order: shape, signer, purpose, payload digest, signature, clock
 * window, and last the nonce, so only a request that is otherwise valid can
 * occupy the replay cache. Any exception is a refusal, never a pass.
 */
export async function verifySignedRequest(
  request: unknown,
  options: VerifyRequestOptions,
): Promise<RequestVerdict> {
  try {
    return await verify(request, options);
  } catch (error) {
    return refuse(`check failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function verify(request: unknown, options: VerifyRequestOptions): Promise<RequestVerdict> {
  const parsed = SignedRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(`malformed request: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`);
  }
  const req = parsed.data;
  const trustedKey =
    typeof options.publicKey === 'string' ? publicKeyFromDidKey(options.publicKey) : options.publicKey;
  const trustedDid = didKeyFromPublicKey(trustedKey);
  if (req.signer !== trustedDid)
    return refuse(`wrong signer: request names ${req.signer}, expected ${trustedDid}`);
  if (req.purpose !== options.purpose) {
    return refuse(
      `purpose mismatch: signed for ${JSON.stringify(req.purpose)}, used for ${JSON.stringify(options.purpose)}`,
    );
  }
  const payloadDigest = sha256(options.payload);
  if (payloadDigest.toString('hex') !== req.payloadDigest) return refuse('payload digest mismatch');

  const nonce = Buffer.from(req.nonce, 'base64url');
  const message = signedRequestMessage({
    purpose: req.purpose,
    signerKey: trustedKey,
    payloadDigest,
    timestamp: req.timestamp,
    nonce,
  });
  if (!verifyEd25519(trustedKey, message, Buffer.from(req.signature, 'base64url'))) {
    return refuse('bad signature');
  }

  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const now = (options.now ?? Date.now)();
  const skewMs = req.timestamp - now;
  if (Math.abs(skewMs) > maxSkewMs) {
    const direction = skewMs > 0 ? 'in the future' : 'in the past';
    return refuse(
      `timestamp outside the allowed window: ${Math.abs(skewMs) / 1000} s ${direction}, limit ${maxSkewMs / 1000} s`,
    );
  }
  // Scoped by signer so one agent cannot burn another's nonce; kept until the window closes.
  if (!(await options.nonces.checkAndRemember(`${trustedDid}#${req.nonce}`, req.timestamp + maxSkewMs + 1))) {
    return refuse('replayed nonce');
  }
  return {
    ok: true,
    reason: 'signature valid',
    signer: trustedDid,
    purpose: req.purpose,
    timestamp: req.timestamp,
  };
}

function refuse(reason: string): RequestVerdict {
  return { ok: false, reason };
}
