import { TOOL_CALL_PREDICATE_TYPE } from '../../attest/tool-call.js';

/** What the log says an agent consumed in the current quota window. */
export interface ReplayedUsage {
  toolCalls: number;
  readonly perTool: Map<string, number>;
}

/** The log as replay needs it (TransparencyLog is one). */
export interface ReadableLog {
  readonly size: number;
  entry(index: number): Promise<Uint8Array>;
}

/**
 * Rebuilds quota consumption from the receipts in the log, newest first,
 * back to `since` (ms since the epoch). The log is the ledger: every call the
 * gateway admitted has a receipt in it before its caller was answered, so
 * after a crash the counters restart from exactly what was acknowledged (and
 * what was logged but not yet acknowledged, which is the safe side). Entries
 * are appended in nearly time order; the scan stops after `slack` entries in a
 * row that are older than the window.
 */
export async function replayToolCalls(
  log: ReadableLog,
  since: number,
  slack = 1000,
): Promise<Map<string, ReplayedUsage>> {
  const usage = new Map<string, ReplayedUsage>();
  let olderInARow = 0;
  for (let index = log.size - 1; index >= 0 && olderInARow < slack; index--) {
    const call = readToolCall(await log.entry(index));
    if (call === undefined) continue;
    if (call.finishedAt < since) {
      olderInARow += 1;
      continue;
    }
    olderInARow = 0;
    if (!call.allowed) continue;
    const entry = usage.get(call.agent) ?? { toolCalls: 0, perTool: new Map<string, number>() };
    entry.toolCalls += 1;
    entry.perTool.set(call.tool, (entry.perTool.get(call.tool) ?? 0) + 1);
    usage.set(call.agent, entry);
  }
  return usage;
}

function readToolCall(
  bytes: Uint8Array,
): { agent: string; tool: string; allowed: boolean; finishedAt: number } | undefined {
  try {
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload?: unknown };
    if (typeof envelope.payload !== 'string') return undefined;
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicateType?: unknown;
      predicate?: {
        agent?: { did?: unknown };
        tool?: { name?: unknown };
        policy?: { effect?: unknown };
        finishedAt?: unknown;
      };
    };
    if (statement.predicateType !== TOOL_CALL_PREDICATE_TYPE) return undefined;
    const p = statement.predicate;
    if (
      typeof p?.agent?.did !== 'string' ||
      typeof p.tool?.name !== 'string' ||
      typeof p.finishedAt !== 'string'
    ) {
      return undefined;
    }
    return {
      agent: p.agent.did,
      tool: p.tool.name,
      allowed: p.policy?.effect === 'allow',
      finishedAt: Date.parse(p.finishedAt),
    };
  } catch {
    return undefined;
  }
}
