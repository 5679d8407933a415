import { type AgentCard, type AgentCardSignature, canonicalizeAgentCard } from '@a2a-js/sdk';
import { z } from 'zod';
import { type Signer, verifyEd25519 } from '../core/ed25519.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../identity/did-key.js';

/**
 * Agent Card signatures as A2A v1.0 §8.4 defines them: a JWS (RFC 7515) whose
 * payload is the canonical card (RFC 8785 over the card without `signatures`,
 * in the SDK's normal form), carried detached as `{ protected, signature }`.
 * Signed by the agent's own did:key with EdDSA, so the key is the identity and
 * no JWKS endpoint is needed. Hand-rolled rather than through jose so any
 * Signer (an HSM) can sign; verification is strict and fails closed.
 */

/** The did:key verification method for its own key (`did:key:z…#z…`), used as the JWS `kid`. */
export function didKeyVerificationMethod(did: string): string {
  return `${did}#${did.slice('did:key:'.length)}`;
}

export function signAgentCard(card: AgentCard, signer: Signer): AgentCard {
  const did = didKeyFromPublicKey(signer.publicKey);
  const header = { alg: 'EdDSA', typ: 'JOSE', kid: didKeyVerificationMethod(did) };
  const protectedB64 = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  const payloadB64 = Buffer.from(canonicalizeAgentCard(card), 'utf8').toString('base64url');
  const signature = signer.sign(Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'));
  const entry: AgentCardSignature = {
    protected: protectedB64,
    signature: Buffer.from(signature).toString('base64url'),
    header: undefined,
  };
  return { ...card, signatures: [entry] };
}

const Base64Url = z.string().regex(/^[A-Za-z0-9_-]*$/, 'must be unpadded base64url');
const EntrySchema = z.object({ protected: Base64Url.min(1), signature: Base64Url.min(1) });
const ProtectedSchema = z
  .object({ alg: z.string(), kid: z.string(), typ: z.string().optional() })
  .loose()
  .refine((header) => !('crit' in header) && !('b64' in header), {
    message: 'crit and b64 are not supported',
  });

/** Most signatures a card may carry (A2A cards carry one per signing key). */
export const MAX_CARD_SIGNATURES = 8;

/** A peer's text quoted in a reason: enough to recognise it, never its whole length. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

export type CardSignatureVerdict =
  | { readonly ok: true; readonly reason: string; readonly kid: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Whether one of the card's signatures is a valid EdDSA JWS by `did` over the
 * card's canonical form. Any malformed entry is skipped with its reason kept;
 * an exception is a refusal, never a pass.
 */
export function verifyAgentCardSignature(card: AgentCard, did: string): CardSignatureVerdict {
  try {
    const entries = card.signatures ?? [];
    if (entries.length === 0) return { ok: false, reason: 'the card carries no signatures' };
    // Each entry costs a verification and a line of the reason: a card of thousands is refused unread.
    if (entries.length > MAX_CARD_SIGNATURES) {
      return {
        ok: false,
        reason: `the card carries ${entries.length} signatures; at most ${MAX_CARD_SIGNATURES} are checked`,
      };
    }
    const key = publicKeyFromDidKey(did);
    const payloadB64 = Buffer.from(canonicalizeAgentCard(card), 'utf8').toString('base64url');
    const reasons: string[] = [];
    for (const [at, raw] of entries.entries()) {
      const reason = checkEntry(raw, did, key, payloadB64);
      if (reason === undefined) {
        return {
          ok: true,
          reason: `signature #${at} verifies with ${did}`,
          kid: didKeyVerificationMethod(did),
        };
      }
      reasons.push(`#${at}: ${reason}`);
    }
    return { ok: false, reason: `no signature verifies with ${did} (${reasons.join('; ')})` };
  } catch (error) {
    return { ok: false, reason: `check failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function checkEntry(raw: unknown, did: string, key: Uint8Array, payloadB64: string): string | undefined {
  const entry = EntrySchema.safeParse(raw);
  if (!entry.success) return 'not a {protected, signature} JWS entry';
  let header: z.infer<typeof ProtectedSchema>;
  try {
    const parsed = ProtectedSchema.safeParse(
      JSON.parse(Buffer.from(entry.data.protected, 'base64url').toString('utf8')),
    );
    if (!parsed.success) return `protected header: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
    header = parsed.data;
  } catch {
    return 'protected header is not JSON';
  }
  if (header.alg !== 'EdDSA') return `alg ${quoted(header.alg)} is not EdDSA`;
  if (header.kid.split('#')[0] !== did)
    return `kid names ${quoted(header.kid.split('#')[0] ?? '')}, not ${did}`;
  const signature = Buffer.from(entry.data.signature, 'base64url');
  const input = Buffer.from(`${entry.data.protected}.${payloadB64}`, 'ascii');
  return verifyEd25519(key, input, signature) ? undefined : 'bad signature';
}
