import type { Usage } from '../airlock/sandbox.js';
import type { ServerIdentity } from './server-identity.js';

/** How one tools/call ended, as far as the bridge could see. */
export type CallOutcome =
  /** The server answered with a result (which may itself be a tool error, `isError: true`). */
  | 'result'
  /** The server answered with a JSON-RPC error. */
  | 'error'
  /** OACP refused the call before it reached the server. */
  | 'denied'
  /** The client cancelled it while it ran. */
  | 'cancelled'
  /** The server went away before answering. */
  | 'server-gone'
  /** The server did not answer within the bridge's request deadline; the client got an error. */
  | 'timeout'
  /**
   * OACP itself died (kill -9) while the call was with the server: recorded from the call's
   * intent (node/intent-journal.ts) by the next process to open the home; how it ended is unknown.
   */
  | 'interrupted';

/** Who approved a call that needed a person's approval, and how. */
export interface ApprovalRecord {
  readonly approved: boolean;
  /** "elicitation:<client name>", "http:<name given>", "timeout", … */
  readonly by: string;
  readonly method: 'elicitation' | 'http' | 'terminal' | 'none';
  readonly reason: string;
  readonly at: string;
}

/** Every check that stood between the call and the server, in the order they ran. */
export interface CallChecks {
  /** The params' shape and the message limits (depth, type of `arguments`), checked before anything else. */
  readonly shape?: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  /** Whether the log could take this call's receipt before it was forwarded. */
  readonly receiptSlot?: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly pin?: { readonly effect: 'allow' | 'deny'; readonly reason: string; readonly digest?: string };
  readonly tools?: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly policy?: {
    readonly effect: 'allow' | 'deny';
    readonly reason: string;
    readonly policyIds: readonly string[];
    readonly policyDigest: string;
  };
  readonly approval?: ApprovalRecord;
  readonly quota?: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  /**
   * Whether the call could run where it was checked: an A2A message admitted on a cluster node
   * whose agent then moved to another node cannot be handed on (its nonce is spent there).
   */
  readonly placement?: { readonly effect: 'allow' | 'deny'; readonly reason: string };
}

/**
 * What the bridge knows about one tools/call when it is over. The receipt
 * writer turns it into the signed tool-call predicate; arguments and results
 * travel as JCS sha256 digests so receipts can be public without leaking data.
 */
export interface ToolCallRecord {
  readonly callId: string;
  readonly server: ServerIdentity;
  readonly tier: string;
  /** The Cedar principal: a did:key, or the MCP client's id. */
  readonly agent: string;
  /** Set when the agent proved its did:key by signing the request. */
  readonly agentSignedRequest?: unknown;
  readonly client?: { readonly name: string; readonly version: string };
  readonly tool: string;
  /** The tool name as the upstream server knows it (differs when the bridge namespaces tools). */
  readonly upstreamTool: string;
  /** JCS sha256 of the tool's definition as pinned (see ToolPins); of `{"name": …}` for a tool never listed. */
  readonly toolDefinitionDigest: string;
  /** sha256 of the Cedar policy text in force (the built-in default when none was given). */
  readonly policyDigest: string;
  readonly argumentsDigest: string;
  readonly decision: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly checks: CallChecks;
  readonly outcome: CallOutcome;
  /**
   * For a call that ended without an answer (cancelled, timeout, server-gone): whether it had been
   * sent to the server, so the receipt never claims a call the server may have run did not run.
   */
  readonly forwarded?: boolean;
  /** `false`: the server answered, and the client's request was gone by then (see the predicate's `delivered`). */
  readonly delivered?: false;
  readonly resultDigest?: string;
  readonly isError?: boolean;
  readonly error?: { readonly code: number; readonly message: string };
  readonly startedAt: string;
  readonly durationMs: number;
  /**
   * What the server's sandbox used while the call ran: counters are the
   * difference between start and end (calls running at the same time share
   * them), memory is the sandbox's peak so far.
   */
  readonly usage?: Usage;
}

/** Where a client can fetch the receipt of its call. */
export interface ReceiptRef {
  /** Position of the receipt in the transparency log. */
  readonly index: number;
  /** The log's origin line (C2SP checkpoint origin). */
  readonly log: string;
  /** Where the receipt can be fetched, relative to the bridge's HTTP base or as a path on disk. */
  readonly path?: string;
}

/** Writes a receipt for each call; the bridge answers the client only once this resolves. */
export interface ReceiptSink {
  record(call: ToolCallRecord): Promise<ReceiptRef>;
  /**
   * Throws (MCP_RECEIPT_UNAVAILABLE) when the log cannot take a receipt now
   * (a failed append, a full disk), so a call is never forwarded, and its side
   * effect never happens, without a place for its receipt.
   */
  reserve?(): void;
  /**
   * Called right before the call is sent to the server: keeps, where this process's death can
   * not lose it, the receipt the call gets if the process dies before `record` (outcome
   * `interrupted`). Throws when it cannot: the call is refused then.
   */
  intend?(call: ToolCallRecord): void;
}

/** Keeps records in memory with consecutive indexes: for tests and for `--attest-level none` style dry runs. */
export class MemoryReceiptSink implements ReceiptSink {
  readonly records: ToolCallRecord[] = [];
  constructor(readonly origin = 'memory.oacp.invalid/log') {}
  async record(call: ToolCallRecord): Promise<ReceiptRef> {
    this.records.push(call);
    return { index: this.records.length - 1, log: this.origin };
  }
}
