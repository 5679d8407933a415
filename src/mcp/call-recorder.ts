import { NO_USAGE, type Usage } from '../airlock/sandbox.js';
import { jcsDigest } from '../core/jcs.js';
import type { CallOutcome, ReceiptRef, ReceiptSink, ToolCallRecord } from './record.js';

/** A call in flight: the record minus what only the end can tell. */
export type ActiveCall = Omit<
  ToolCallRecord,
  'argumentsDigest' | 'outcome' | 'durationMs' | 'startedAt' | 'usage'
> & {
  /** As the client sent them (absent arguments as `{}`); digested as they are, whatever their type. */
  readonly arguments: unknown;
  readonly startedAt: Date;
  /** performance.now() at the start, for the duration. */
  readonly startedMs: number;
  /** The sandbox's usage when the call started, to report the difference. */
  readonly usageAtStart?: Usage;
};

export interface FinishedCall {
  readonly call: ActiveCall;
  readonly outcome: CallOutcome;
  /** Whether the call had been sent to the server (see ToolCallRecord.forwarded). */
  readonly forwarded?: boolean;
  /** `false`: answered into nothing, the client's request gone (see ToolCallRecord.delivered). */
  readonly delivered?: false;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
}

/** Turns finished calls into records and hands them to the receipt sink. */
export interface CallRecorder {
  finish(finished: FinishedCall, usage: Usage | undefined): Promise<ReceiptRef>;
  /** Throws when no receipt could be written now; see ReceiptSink.reserve. */
  reserve(): void;
  /** Right before `call` is sent: see ReceiptSink.intend. Throws when its intent cannot be kept. */
  intend?(call: ActiveCall): void;
}

export function callRecorder(sink: ReceiptSink): CallRecorder {
  // A forwarded call's arguments are digested for its intent, right before they are sent; its
  // receipt takes that digest rather than canonicalizing the same arguments a second time.
  const digested = new WeakMap<ActiveCall, string>();
  return {
    finish: (finished, usage) => sink.record(toRecord(finished, usage, digested.get(finished.call))),
    reserve: () => sink.reserve?.(),
    intend: (call) => {
      if (sink.intend === undefined) return;
      const record = interruptedRecord(call);
      digested.set(call, record.argumentsDigest);
      sink.intend(record);
    },
  };
}

/** The record of `call` if OACP dies while the server has it: sent, and its end unknown. */
export function interruptedRecord(call: ActiveCall): ToolCallRecord {
  return toRecord({ call, outcome: 'interrupted', forwarded: true }, undefined);
}

/** `argumentsDigest`: the digest of `finished.call.arguments` when it is known already. */
export function toRecord(
  finished: FinishedCall,
  usage: Usage | undefined,
  argumentsDigest: string = jcsDigest(finished.call.arguments),
): ToolCallRecord {
  const { call, outcome, forwarded } = finished;
  const durationMs = Math.max(0, performance.now() - call.startedMs);
  const used = usage === undefined ? undefined : usageDuring(call.usageAtStart, usage, durationMs);
  // Built member by member into one fresh object, in the order the spreads it replaces gave: a
  // rest pattern and two spreads over the call (its `startedAt` a Date here, a string there)
  // cost 10-20 µs a record in V8, twice per forwarded call (its intent, its receipt).
  const record: Record<string, unknown> = {};
  for (const key of Object.keys(call)) {
    if (!ACTIVE_ONLY.includes(key)) record[key] = (call as unknown as Record<string, unknown>)[key];
  }
  record.argumentsDigest = argumentsDigest;
  record.outcome = outcome;
  if (forwarded !== undefined) record.forwarded = forwarded;
  if (finished.delivered === false) record.delivered = false;
  record.startedAt = call.startedAt.toISOString();
  record.durationMs = durationMs;
  if (used !== undefined) record.usage = used;
  if (finished.result !== undefined) {
    record.resultDigest = resultDigest(finished.result);
    record.isError = finished.result.isError === true;
  } else if (finished.error !== undefined) {
    record.error = finished.error;
  }
  return record as unknown as ToolCallRecord;
}

/** What an ActiveCall has that its record does not (or has in another form). */
const ACTIVE_ONLY: readonly string[] = Object.freeze(['arguments', 'startedAt', 'startedMs', 'usageAtStart']);

/** The tool result a refused call gets: an MCP tool error the model can read, carrying its receipt. */
export function denialResult(reason: string, receipt: Record<string, unknown>): Record<string, unknown> {
  const index = typeof receipt.index === 'number' ? ` (receipt #${receipt.index})` : '';
  return {
    content: [{ type: 'text', text: `OACP denied this call: ${reason}${index}` }],
    isError: true,
    _meta: { 'oacp/receipt': receipt },
  };
}

/** Where the bridge puts a call's receipt reference in what the client receives. */
export const RECEIPT_META = 'oacp/receipt';

/**
 * The result as the client receives it, less the receipt reference the bridge
 * adds (which cannot be inside its own digest): `_meta["oacp/receipt"]`
 * removed, and `_meta` itself when nothing else is left in it. A client
 * recomputes resultDigest by applying this to what it got (docs/receipts.md).
 */
export function resultAsDigested(result: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const meta = result._meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return { ...result };
  const { [RECEIPT_META]: _receipt, ...restMeta } = meta as Record<string, unknown>;
  const { _meta: _dropped, ...rest } = result;
  return Object.keys(restMeta).length === 0 ? rest : { ...rest, _meta: restMeta };
}

/** JCS sha256 of the result the client receives (see resultAsDigested). */
export function resultDigest(result: Readonly<Record<string, unknown>>): string {
  return jcsDigest(resultAsDigested(result));
}

function usageDuring(start: Usage | undefined, end: Usage, durationMs: number): Usage {
  const base = start ?? NO_USAGE;
  const delta = (a: number, b: number) => Math.max(0, a - b);
  return {
    wallMs: durationMs,
    cpuMs: delta(end.cpuMs, base.cpuMs),
    memoryPeakBytes: end.memoryPeakBytes,
    egressRequests: delta(end.egressRequests, base.egressRequests),
    egressDenied: delta(end.egressDenied, base.egressDenied),
    outputBytes: delta(end.outputBytes, base.outputBytes),
  };
}
