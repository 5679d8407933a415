import { canonicalize } from '../core/jcs.js';
import type { NonceStore } from '../identity/nonce-store.js';
import { verifySignedRequest } from '../identity/signed-request.js';

/** `_meta` key under which a client may present a signed request proving its did:key. */
export const AGENT_REQUEST_META = 'oacp/agent-request';

export type Principal =
  | {
      readonly ok: true;
      readonly id: string;
      readonly verified: boolean;
      /**
       * Whether this principal draws on a quota bucket of its own: only when someone other
       * than the caller named it (the bridge's `--agent`, the gateway's authenticated agent).
       * A client's self-declared name or a did:key it made a moment ago costs nothing to
       * change, so such callers share one bucket (SELF_NAMED_CALLERS).
       */
      readonly ownBucket: boolean;
      readonly signedRequest?: unknown;
    }
  | { readonly ok: false; readonly reason: string };

/** The one quota holder every self-named caller of a server shares; no agent id has this form. */
export const SELF_NAMED_CALLERS = 'self-named-callers';

/** Who a call's quota is taken from: the principal itself only when it has a bucket of its own. */
export function quotaHolder(principal: { readonly id: string; readonly ownBucket: boolean }): string {
  return principal.ownBucket ? principal.id : SELF_NAMED_CALLERS;
}

/** The purpose an agent signs for a tools/call, so a signature for one tool authorizes no other. */
export function toolCallPurpose(tool: string): string {
  return `mcp tools/call ${tool}`;
}

/** The payload an agent signs: the JCS form of the tool name and arguments it sends. */
export function toolCallPayload(tool: string, args: Readonly<Record<string, unknown>>): string {
  return canonicalize({ name: tool, arguments: args });
}

/**
 * Who is calling. A fixed agent configured on the bridge wins; otherwise a
 * signed request in `_meta` proves a did:key (self-certifying, so the key in
 * the did is the one checked); otherwise the client's self-declared name,
 * prefixed `client:` so it can never pass for a did:key in a policy. A signed
 * request that does not verify is a refusal, not a fallback to the name.
 */
export async function resolvePrincipal(options: {
  fixedAgent?: string | undefined;
  clientName?: string | undefined;
  tool: string;
  args: Readonly<Record<string, unknown>>;
  meta: Readonly<Record<string, unknown>> | undefined;
  nonces: NonceStore;
}): Promise<Principal> {
  if (options.fixedAgent !== undefined) {
    return { ok: true, id: options.fixedAgent, verified: true, ownBucket: true };
  }
  const signed = options.meta?.[AGENT_REQUEST_META];
  if (signed !== undefined) {
    const signer = (signed as { signer?: unknown } | null)?.signer;
    if (typeof signer !== 'string') return { ok: false, reason: 'agent signed request names no signer' };
    const verdict = await verifySignedRequest(signed, {
      publicKey: signer,
      payload: toolCallPayload(options.tool, options.args),
      purpose: toolCallPurpose(options.tool),
      nonces: options.nonces,
    });
    if (!verdict.ok) return { ok: false, reason: `agent signature refused: ${verdict.reason}` };
    return { ok: true, id: verdict.signer, verified: true, ownBucket: false, signedRequest: signed };
  }
  return { ok: true, id: `client:${options.clientName ?? 'anonymous'}`, verified: false, ownBucket: false };
}
