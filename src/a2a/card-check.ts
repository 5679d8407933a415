import type { AgentCard } from '@a2a-js/sdk';
import { verifyAgentCardSignature } from './card-signature.js';
import { type AttestationParams, AttestationParamsSchema, OACP_A2A_EXTENSION } from './extension.js';

/**
 * What a caller learns from a card before sending anything:
 * - `verified`: it declares the OACP extension and is signed by the did:key
 *   the extension names (and that did is the pinned one, if one was pinned);
 * - `plain`: no OACP extension: an ordinary A2A agent, usable but Untrusted;
 * - `invalid`: it claims OACP but the claim does not hold; do not send to it.
 */
export type CardCheck =
  | {
      readonly status: 'verified';
      readonly did: string;
      readonly params: AttestationParams;
      readonly reason: string;
    }
  | { readonly status: 'plain'; readonly reason: string }
  | { readonly status: 'invalid'; readonly reason: string };

export function checkAgentCard(card: AgentCard, expectedDid?: string): CardCheck {
  const extensions = card.capabilities?.extensions ?? [];
  const entries = extensions.filter((extension) => extension.uri === OACP_A2A_EXTENSION);
  if (entries.length === 0) {
    if (expectedDid !== undefined) {
      return {
        status: 'invalid',
        reason: `expected an OACP agent ${expectedDid}, but the card declares no OACP extension`,
      };
    }
    const signed = (card.signatures ?? []).length;
    return {
      status: 'plain',
      reason:
        signed === 0
          ? 'a plain A2A agent: no OACP attestation extension and no signature'
          : `a plain A2A agent: no OACP attestation extension (${signed} signature(s) by keys OACP does not know)`,
    };
  }
  if (entries.length > 1)
    return { status: 'invalid', reason: 'the card declares the OACP extension more than once' };
  const parsed = AttestationParamsSchema.safeParse(entries[0]?.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      status: 'invalid',
      reason: `OACP extension params: ${issue?.path.join('.') || 'params'}: ${issue?.message ?? 'invalid'}`,
    };
  }
  const params = parsed.data;
  if (expectedDid !== undefined && params.did !== expectedDid) {
    return { status: 'invalid', reason: `the card is for ${params.did}, expected ${expectedDid}` };
  }
  const signature = verifyAgentCardSignature(card, params.did);
  if (!signature.ok) return { status: 'invalid', reason: `card signature: ${signature.reason}` };
  return { status: 'verified', did: params.did, params, reason: signature.reason };
}
