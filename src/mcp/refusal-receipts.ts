import type { Clock } from '../airlock/quota/clock.js';
import {
  DEFAULT_REFUSAL_RECEIPT_LIMITS,
  RefusalReceiptLimiter,
  type RefusalReceiptLimits,
  type RefusalSubject,
  type SuppressedRefusals,
} from '../airlock/quota/refusal-limit.js';

/** How the summary of a server's refused client messages answered without a receipt is named in its receipt. */
export const MCP_SUPPRESSED_REFUSALS = 'mcp:refusals-suppressed';

/** `--refusal-receipts N`: receipts one session may cause per minute; all sessions of a server, this many times N. */
export const OVERALL_PER_SESSION = 10;

/** Said in a refusal answered without its own receipt (past the refusal receipt limits). */
export const NOT_RECEIPTED =
  "no receipt of its own: over the bridge's refusal receipt limit (--refusal-receipts), it is counted in a summary receipt";

/** The answer to a refused tools/call past the limits: the same denial the model reads, less its receipt. */
export function unreceiptedDenial(reason: string): Record<string, unknown> {
  return {
    content: [{ type: 'text', text: `OACP denied this call: ${reason} (${NOT_RECEIPTED})` }],
    isError: true,
  };
}

/** The summary receipt's reason and arguments (`argumentsDigest` is theirs), as docs/receipts.md gives them. */
export function suppressedRecord(summary: SuppressedRefusals<RefusalSubject>): {
  readonly reason: string;
  readonly arguments: Record<string, unknown>;
} {
  const window = { from: summary.from.toISOString(), to: summary.to.toISOString() };
  const sessions = `${summary.sources} session${summary.sources === 1 ? '' : 's'}`;
  return {
    reason:
      `${summary.count} refused client messages from ${sessions} were answered without a receipt of ` +
      `their own between ${window.from} and ${window.to} (over --refusal-receipts, docs/receipts.md)`,
    arguments: { suppressed: summary.count, sessions: summary.sources, ...window },
  };
}

/** Who a summary is recorded as when the bridge has no fixed agent (`--agent`): nothing proved who sent them. */
export const UNAUTHENTICATED = 'unauthenticated';

/** The server a refusal is counted under, and how its summary is written (through a session's flow). */
export interface RefusedSubject extends RefusalSubject {
  record(summary: SuppressedRefusals<RefusedSubject>): Promise<void>;
}

/** The one refusal limiter, counting a server's refusals per session and overall. */
export type BridgeRefusalLimiter = RefusalReceiptLimiter<RefusedSubject>;

/** A server's limiter, and its close: the open window summed up, every summary written. */
export interface BridgeRefusals {
  readonly limiter: BridgeRefusalLimiter;
  /** Before the log closes: records the window still open, and waits for every summary under way. */
  close(): Promise<void>;
}

/** The limits `--refusal-receipts N` sets: N per session per minute, OVERALL_PER_SESSION·N for all. */
export function refusalReceiptLimits(perSessionPerMinute: number | undefined): RefusalReceiptLimits {
  if (perSessionPerMinute === undefined) return DEFAULT_REFUSAL_RECEIPT_LIMITS;
  return {
    perSourcePerMinute: perSessionPerMinute,
    overallPerMinute: perSessionPerMinute * OVERALL_PER_SESSION,
  };
}

/**
 * Which client messages the bridge refuses before any check but their shape and limits (invalid
 * JSON-RPC, messages over the limits, imitated method names, tools/call as a notification, task
 * ids the session does not hold) get a receipt of their own. Any process that reaches `--http`
 * (or a stdio client) can send those as fast as it likes, and each receipt is a signed, fsynced
 * log entry: they are limited with the one refusal limiter (airlock/quota/refusal-limit.ts), per
 * session and for all sessions of the server. Past the limits the refusal is answered the same,
 * less its receipt, and counted: each server's count is recorded once per window (and when the
 * bridge closes) as one receipt, tool `mcp:refusals-suppressed`. A call the pipeline refused
 * (policy, pins, approval, quota...) is never limited here.
 */
export function bridgeRefusals(limits: RefusalReceiptLimits, clock?: Clock): BridgeRefusals {
  // A summary its timer started is written through a session that may be gone: tracked here so
  // closing waits for it too (none is left half-written when the log closes).
  const writing = new Set<Promise<void>>();
  const limiter = new RefusalReceiptLimiter<RefusedSubject>(
    limits,
    (summary) => {
      const write = summary.agent.record(summary);
      writing.add(write);
      void write.then(
        () => writing.delete(write),
        () => writing.delete(write),
      );
      return write;
    },
    clock,
  );
  return {
    limiter,
    close: async () => {
      await limiter.flushAll();
      await Promise.allSettled([...writing]);
    },
  };
}
