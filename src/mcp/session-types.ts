import type { NonceStore } from '../identity/nonce-store.js';
import type { GateParts, PriorChecks } from './call-gate.js';
import type { CallRecorder } from './call-recorder.js';
import type { PermissionHint } from './diagnose/permission-hints.js';
import type { MessageLimits } from './message-limits.js';
import type { CallChecks } from './record.js';
import type { RestartPolicy } from './restart-budget.js';
import type { FlowParts, Outcome } from './tool-call-flow.js';
import type { UpstreamConnector } from './upstream.js';

/** How long a forwarded request may wait for the server before its caller gets an error (5 minutes). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/** JSON-RPC code of a request the bridge gave up waiting for (MCP's request-timeout code). */
export const REQUEST_TIMEOUT = -32001;

/** JSON-RPC code of a call whose in-process caller went away and was cancelled (JSON-RPC's RequestCancelled, as LSP). */
export const REQUEST_CANCELLED = -32800;

/** Things worth a line in the bridge's log; never part of the protocol. */
export type BridgeEvent =
  | { readonly type: 'upstream-ended'; readonly reason: string }
  | { readonly type: 'upstream-restarted'; readonly attempt: number }
  | { readonly type: 'upstream-restart-failed'; readonly attempt: number; readonly reason: string }
  | { readonly type: 'upstream-gave-up'; readonly reason: string }
  | { readonly type: 'invalid-message'; readonly from: 'client' | 'server'; readonly reason: string }
  | { readonly type: 'receipt-failed'; readonly callId: string; readonly reason: string }
  | { readonly type: 'pin-refresh-failed'; readonly reason: string }
  | { readonly type: 'request-timeout'; readonly method: string }
  | { readonly type: 'send-failed'; readonly to: 'client' | 'server'; readonly reason: string }
  /** A forwarded call failed as a missing grant does (diagnose/failed-call-hint.ts); once a session, never its text. */
  | { readonly type: 'call-hint'; readonly tool: string; readonly hint: PermissionHint };

export interface SessionParts {
  readonly connector: UpstreamConnector;
  readonly gate: GateParts;
  readonly recorder: CallRecorder;
  /** A fixed principal (the bridge runs on behalf of one agent); else each call's own. */
  readonly agent?: string;
  readonly restart?: RestartPolicy;
  readonly onEvent?: (event: BridgeEvent) => void;
  /** Nonces of signed agent requests; the home's shared store in `oacp mcp run` (in memory by default). */
  readonly nonces?: NonceStore;
  readonly limits?: MessageLimits;
  /** Deadline of every forwarded request, in ms (DEFAULT_REQUEST_TIMEOUT_MS by default). */
  readonly requestTimeoutMs?: number;
  /** Limits the receipts of this session's refused client messages (FlowParts.refusals). */
  readonly refusals?: FlowParts['refusals'];
}

/** A tools/call made in-process (see BridgeSession.call). */
export interface DirectCall {
  readonly tool: string;
  readonly arguments: unknown;
  /** The principal, already authenticated by the caller. */
  readonly agent: string;
  readonly prior?: PriorChecks;
  readonly signal?: AbortSignal;
  /**
   * Set when the caller's own authentication refused the agent's proof (a
   * replayed signed request): the call goes through the pipeline only to be
   * refused at its identity step, and recorded; nothing is forwarded.
   */
  readonly identityRefused?: string;
}

export interface DirectOutcome {
  /** What a client would have been answered: the result (a denial is an MCP tool error) or an error, with the receipt in `_meta` / `error.data`. */
  readonly outcome: Outcome;
  readonly decision: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly checks: CallChecks;
}
