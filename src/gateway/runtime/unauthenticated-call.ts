import type { Clock } from '../../airlock/quota/clock.js';
import {
  RefusalReceiptLimiter,
  type RefusalReceiptLimits,
  type RefusalSubject,
  type SuppressedRefusals,
} from '../../airlock/quota/refusal-limit.js';
import type { AgentRecord } from './agent-directory.js';
import type { CallerAgent } from './caller.js';
import {
  agentCaller,
  noGrantsCaller,
  recordRefusedToolCall,
  toolCallArguments,
  toolCallTarget,
} from './replayed-call.js';
import type { ToolCaller } from './tool-caller.js';

/** What a request refused by authentication claimed to be; never what it presented as proof. */
export type AuthClaim =
  /** A signed request naming a registered agent: `verified` when its signature held (a replay). */
  | { readonly kind: 'agent'; readonly agent: AgentRecord; readonly verified: boolean }
  /** A signed request naming a did no agent here has (or a retired one). */
  | { readonly kind: 'did'; readonly did: string }
  /** An API key whose id was readable (unknown, wrong secret, revoked, expired). */
  | { readonly kind: 'api-key'; readonly keyId: string };

/** One request refused by authentication (src/gateway/http/auth.ts), as the gateway is told of it. */
export interface AuthRefusal {
  readonly reason: string;
  readonly method: string;
  /** Path with query string. */
  readonly target: string;
  /** The client address (the socket's, never a forwarding header). */
  readonly source: string;
  readonly claim?: AuthClaim;
  /**
   * The body, when authentication read it (a signed request from a registered agent: its
   * signature covers it). Nobody's else is read: no 100 Continue, no bytes taken, for a caller
   * nobody authenticated.
   */
  readonly body?: Uint8Array;
}

/** Who a refused call is recorded as when nothing proved who made it (docs/receipts.md). */
export const UNAUTHENTICATED = 'unauthenticated';

/** How the summary of unauthenticated tool-call refusals answered without a receipt is named in its receipt. */
export const SUPPRESSED_TOOL_CALLS = 'gateway:refusals-suppressed';

/** The arguments of a call whose body was not read (docs/gateway.md). */
const UNREAD = { 'oacp/unread': { unauthenticated: true } };

const SUBJECT: RefusalSubject = { name: 'POST /v1/tools/:name/call' };

/**
 * Tool calls refused by authentication (`POST /v1/tools/:name/call` with a
 * missing, malformed, unknown, wrong or revoked key, a signature that does not
 * verify, or a replay): recorded as that call refused at the pipeline's
 * identity step, with its receipt. Anyone can cause these, so they are limited
 * as A2A's are (the same RefusalReceiptLimiter and `a2a.refusal_receipts`
 * limits, its own buckets): past them the 401 is the same, and the calls are
 * summed up in one receipt per window. The caller recorded is what the request
 * claimed, prefixed `claimed:` (never co-signed: nothing proved it), or
 * `unauthenticated`; a replay, whose signature held, is recorded under its agent.
 */
export class UnauthenticatedToolCalls {
  private readonly limiter: RefusalReceiptLimiter<RefusalSubject>;

  constructor(
    private readonly tools: ToolCaller,
    limits: RefusalReceiptLimits,
    clock?: Clock,
  ) {
    this.limiter = new RefusalReceiptLimiter<RefusalSubject>(
      limits,
      (summary) => this.summarize(summary),
      clock,
    );
  }

  /** Records the refusal when it was a tool call and within the limits; never throws. */
  async refused(refusal: AuthRefusal): Promise<void> {
    const tool = toolCallTarget(refusal.method, refusal.target);
    if (tool === undefined) return;
    if (!this.limiter.admit(SUBJECT, refusal.source)) return;
    const body = refusal.body;
    const replay = refusal.claim?.kind === 'agent' && refusal.claim.verified;
    await recordRefusedToolCall(this.tools, {
      caller: callerOf(refusal.claim),
      // Only a replay's signature held: only it is the agent's own call (and co-signed as one).
      channel: replay ? 'signed-request' : 'unauthenticated',
      tool,
      arguments: body === undefined ? UNREAD : toolCallArguments(body),
      reason: refusal.reason,
    });
  }

  /** Records the summaries of every window now (on close, before the log closes). */
  flush(): Promise<void> {
    return this.limiter.flushAll();
  }

  private async summarize(summary: SuppressedRefusals<RefusalSubject>): Promise<void> {
    const window = { from: summary.from.toISOString(), to: summary.to.toISOString() };
    const sources = `${summary.sources} source${summary.sources === 1 ? '' : 's'}`;
    await recordRefusedToolCall(this.tools, {
      caller: noGrantsCaller(UNAUTHENTICATED, UNAUTHENTICATED),
      channel: 'unauthenticated',
      tool: SUPPRESSED_TOOL_CALLS,
      arguments: { suppressed: summary.count, sources: summary.sources, ...window },
      reason:
        `${summary.count} tool calls refused by authentication from ${sources} were answered without a ` +
        `receipt of their own between ${window.from} and ${window.to} (over a2a.refusal_receipts, docs/receipts.md)`,
    });
  }
}

/** A receipt's `agent.clientId` is at most this long (src/attest/predicate-parts.ts). */
const MAX_CLIENT_ID = 256;

/** The caller a refused call is recorded as: what it claimed, marked unproven, or `unauthenticated`. */
function callerOf(claim: AuthClaim | undefined): CallerAgent {
  if (claim === undefined) return noGrantsCaller(UNAUTHENTICATED, UNAUTHENTICATED);
  if (claim.kind === 'agent' && claim.verified) return agentCaller(claim.agent);
  const claimed =
    claim.kind === 'agent' ? claim.agent.id : claim.kind === 'did' ? claim.did : `apikey:${claim.keyId}`;
  // A did no agent has is the caller's text: cut to what a receipt holds.
  return noGrantsCaller(`claimed:${claimed}`.slice(0, MAX_CLIENT_ID), UNAUTHENTICATED);
}
