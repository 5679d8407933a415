import type { Envelope } from '../attest/dsse.js';
import type { Signer } from '../core/ed25519.js';
import type { A2aTaskInput, A2aTaskOutput, A2aTier } from './extension.js';

export interface A2aSkill {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly tags?: readonly string[];
  readonly examples?: readonly string[];
}

/** An agent as the A2A layer publishes it. */
export interface A2aAgent {
  readonly did: string;
  /** Its path segment: /a2a/<name>. */
  readonly name: string;
  readonly description: string;
  readonly skills: readonly A2aSkill[];
  /** Signs its card (and is the key behind `did`). */
  readonly signer: Signer;
  readonly tier: A2aTier;
  /** sha256 (hex) of the JCS form of its effective manifest, as its receipts name it. */
  readonly manifestDigest: string;
}

/** Which agents this node serves over A2A: the gateway's registry, or a fixed list. */
export interface A2aAgentDirectory {
  list(): Promise<readonly A2aAgent[]>;
  /** By name. */
  get(name: string): Promise<A2aAgent | undefined>;
  /** The name of the local agent with this did:key, for trust edges written with names; list() is used when absent. */
  localName?(did: string): Promise<string | undefined>;
}

/** A receipt as it was logged: its index and its DSSE envelope. */
export interface LoggedReceipt {
  readonly index: number;
  readonly envelope: Envelope;
}

export type A2aExecution =
  | { readonly ok: true; readonly output: A2aTaskOutput; readonly receipt: LoggedReceipt }
  | { readonly ok: false; readonly error: string; readonly receipt?: LoggedReceipt };

export interface A2aExecutionContext {
  readonly taskId: string;
  readonly contextId: string;
  /** Aborted when the task is cancelled. */
  readonly signal: AbortSignal;
}

/**
 * Runs the agent's program on one message's input in its sandbox and returns
 * the output with the execution receipt logged for that run. The receipt's
 * inputsDigest must be jcsDigest(input) and its outputsDigest
 * jcsDigest({ value, logs }): callers recompute both.
 */
export type A2aExecutor = (
  agent: A2aAgent,
  input: A2aTaskInput,
  context: A2aExecutionContext,
) => Promise<A2aExecution>;

/** A refusal or anomaly on the inbound path, for the gateway's metrics and audit log. */
export interface A2aSecurityEvent {
  readonly type:
    | 'signature_required'
    | 'signature_invalid'
    | 'replay'
    | 'trust_denied'
    | 'malformed_request'
    | 'receipt_unavailable'
    | 'policy_denied'
    | 'quota_exceeded'
    | 'cancel_refused'
    /** A task read (get, resubscribe, push configs) without its sender's signature: answered as not found. */
    | 'task_refused'
    /** Refusals of unauthenticated input answered without a receipt of their own over a window (one summary receipt). */
    | 'refusals_suppressed';
  /** The receiving agent's name. */
  readonly agent: string;
  /** The claimed sender's did:key, when the request named one. */
  readonly sender?: string;
  readonly reason: string;
  /**
   * Set on a refusal of input nobody the node knows sent (no caller the embedding
   * server authenticated, no signer the trust graph admitted): anyone on the network
   * can cause one, so its operator-log line is rate-limited by `source`
   * (src/gateway/runtime/refusal-warnings.ts, docs/a2a.md).
   */
  readonly unauthenticated?: {
    /** The client address it came from: for the operator's limits and log, never a receipt. */
    readonly source: string;
  };
}
