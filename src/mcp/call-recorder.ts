import { NO_USAGE, type Usage } from '../airlock/sandbox.js';
import { jcsDigest } from '../core/jcs.js';
import type { CallOutcome, ReceiptRef, ReceiptSink, ToolCallRecord } from './record.js';

/** A call in flight: the record minus what only the end can tell. */
export type ActiveCall = Omit<
  ToolCallRecord,
  'argumentsDigest' | 'outcome' | 'durationMs' | 'startedAt' | 'usage'
> & {
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  /** performance.now() at the start, for the duration. */
  readonly startedMs: number;
  /** The sandbox's usage when the call started, to report the difference. */
  readonly usageAtStart?: Usage;
};

export interface FinishedCall {
  readonly call: ActiveCall;
  readonly outcome: CallOutcome;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
}

/** Turns finished calls into records and hands them to the receipt sink. */
export interface CallRecorder {
  finish(finished: FinishedCall, usage: Usage | undefined): Promise<ReceiptRef>;
}

export function callRecorder(sink: ReceiptSink): CallRecorder {
  return {
    finish: (finished, usage) => sink.record(toRecord(finished, usage)),
  };
}

export function toRecord(finished: FinishedCall, usage: Usage | undefined): ToolCallRecord {
  const { call, outcome } = finished;
  const { arguments: args, startedAt, startedMs, usageAtStart, ...rest } = call;
  const durationMs = Math.max(0, performance.now() - startedMs);
  const used = usage === undefined ? undefined : usageDuring(usageAtStart, usage, durationMs);
  const record: ToolCallRecord = {
    ...rest,
    argumentsDigest: safeDigest(args),
    outcome,
    startedAt: startedAt.toISOString(),
    durationMs,
    ...(used === undefined ? {} : { usage: used }),
  };
  if (finished.result !== undefined) {
    return {
      ...record,
      resultDigest: safeDigest(finished.result),
      isError: finished.result.isError === true,
    };
  }
  if (finished.error !== undefined) return { ...record, error: finished.error };
  return record;
}

/** The tool result a refused call gets: an MCP tool error the model can read, carrying its receipt. */
export function denialResult(reason: string, receipt: Record<string, unknown>): Record<string, unknown> {
  const index = typeof receipt.index === 'number' ? ` (receipt #${receipt.index})` : '';
  return {
    content: [{ type: 'text', text: `OACP denied this call: ${reason}${index}` }],
    isError: true,
    _meta: { 'oacp/receipt': receipt },
  };
}

function safeDigest(value: unknown): string {
  try {
    return jcsDigest(value);
  } catch {
    // JSON that arrived over the wire always canonicalizes; this is only for values built in-process.
    return jcsDigest(JSON.parse(JSON.stringify(value ?? null)) as unknown);
  }
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
