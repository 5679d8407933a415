import { z } from 'zod';
import { MODEL_CALL_PREDICATE_TYPE } from '../attest/model-call.js';
import { type OacpStatement, readOacpStatement } from '../attest/oacp-statement.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../attest/tool-call.js';
import { verifyReceiptEnvelope } from '../attest/verify-receipt.js';
import type { AuditEntry, AuditPage } from '../console/audit-entry.js';
import { OacpError } from '../core/errors.js';

export type { AuditEntry, AuditPage };

export type AuditErrorCode = 'AUDIT_FILTER_INVALID';

/** The filters `oacp log list` and `GET /v1/receipts` share; parsed from flags or a query string. */
export const AuditFilterSchema = z.strictObject({
  since: z
    .string()
    .refine(
      (text) => parseSince(text, Date.now()) !== undefined,
      'an ISO time or a duration such as 15m, 2h, 7d',
    )
    .optional(),
  tool: z.string().min(1).max(200).optional(),
  agent: z.string().min(1).max(300).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  /** Newest first, from entries below this index (the previous page's `next`). */
  before: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
export type AuditFilter = z.input<typeof AuditFilterSchema>;

/** Entries one page reads at most, matching or not. */
export const MAX_SCAN = 5000;

/** Reads entries; any log with `size` and `entry(index)` (the node's log, read-only or not). */
export interface AuditSource {
  readonly size: number;
  entry(index: number): Promise<Uint8Array>;
}

export function parseAuditFilter(input: unknown): z.infer<typeof AuditFilterSchema> {
  const parsed = AuditFilterSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OacpError<AuditErrorCode>(
      'AUDIT_FILTER_INVALID',
      `${issue?.path.join('.') || 'filter'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Newest first: scans down from `before` until `limit` entries match (or the log's start). */
export async function listAudit(
  source: AuditSource,
  input: unknown,
  airlockKeys: readonly Uint8Array[],
): Promise<AuditPage> {
  const filter = parseAuditFilter(input);
  const since = filter.since === undefined ? undefined : parseSince(filter.since, Date.now());
  const entries: AuditEntry[] = [];
  let index = Math.min(filter.before ?? source.size, source.size) - 1;
  // A filter that matches nothing must not read a million entries in one request: a page
  // looks at most MAX_SCAN entries and hands back `next` to go on from.
  const stop = Math.max(-1, index - MAX_SCAN);
  for (; index > stop && entries.length < filter.limit; index -= 1) {
    const entry = decodeAuditEntry(index, await source.entry(index), airlockKeys);
    if (matchesAuditFilter(entry, filter, since)) entries.push(entry);
  }
  return index >= 0 ? { entries, next: index + 1, logSize: source.size } : { entries, logSize: source.size };
}

/** Decodes and verifies one logged envelope; never throws (an unreadable entry says why). */
export function decodeAuditEntry(
  index: number,
  bytes: Uint8Array,
  airlockKeys: readonly Uint8Array[],
): AuditEntry {
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { index, kind: 'unreadable', verified: false, verification: 'the entry is not JSON' };
  }
  const verdict = verifyReceiptEnvelope(envelope, { airlockKeys });
  const failed = verdict.checks.find((check) => !check.ok);
  const verification = verdict.ok
    ? `ok (${verdict.trustLevel})`
    : `failed: ${failed?.name ?? 'verification'}: ${failed?.detail ?? ''}`;
  const read = verdict.statement === undefined ? undefined : readOacpStatement(verdict.statement);
  if (read === undefined || !read.ok) return { index, kind: 'unreadable', verified: false, verification };
  return { index, ...describe(read.statement), verified: verdict.ok, verification };
}

function describe(statement: OacpStatement): Omit<AuditEntry, 'index' | 'verified' | 'verification'> {
  const p = statement.predicate;
  const caller = p.agent?.did ?? p.agent?.clientId;
  const common = {
    time: p.startedAt,
    durationMs: p.durationMs,
    ...('tier' in p ? { tier: p.tier } : {}),
    ...(caller === undefined ? {} : { caller }),
  };
  if (statement.predicateType === TOOL_CALL_PREDICATE_TYPE) {
    const call = statement.predicate;
    return {
      kind: 'tool-call',
      ...common,
      ...(call.server.name === undefined ? {} : { server: call.server.name }),
      tool: call.tool.name,
      decision: call.policy.effect,
      reason: call.policy.reason,
      ...(call.policy.policyId === undefined ? {} : { policyId: call.policy.policyId }),
    };
  }
  if (statement.predicateType === MODEL_CALL_PREDICATE_TYPE) {
    const call = statement.predicate;
    return {
      kind: 'model-call',
      ...common,
      ...(call.provider === undefined ? {} : { server: call.provider.name }),
      tool: call.model.requested,
      decision: call.outcome === 'ok' ? 'allow' : 'deny',
      reason: call.reason ?? call.policy.reason,
    };
  }
  const run = statement.predicate;
  const failed = run.exit.code !== 0 || run.exit.signal !== null;
  if (run.outcome === 'refused' || run.outcome === 'interrupted') {
    return {
      kind: 'execution',
      ...common,
      decision: run.outcome === 'refused' ? 'deny' : 'allow',
      reason: `${run.outcome}: ${run.reason ?? 'no reason given'}`,
    };
  }
  return {
    kind: 'execution',
    ...common,
    decision: failed && run.exit.killedBy !== undefined ? 'deny' : 'allow',
    reason:
      run.exit.killedBy !== undefined
        ? `killed by ${run.exit.killedBy}`
        : `exit ${run.exit.code ?? run.exit.signal ?? 'unknown'}`,
  };
}

/** Whether one decoded entry passes the filter (the list and the live stream share it). */
export function matchesAuditFilter(
  entry: AuditEntry,
  filter: z.infer<typeof AuditFilterSchema>,
  since: number | undefined,
): boolean {
  if (filter.tool !== undefined && entry.tool !== filter.tool) return false;
  if (filter.agent !== undefined && entry.caller !== filter.agent) return false;
  if (filter.decision !== undefined && entry.decision !== filter.decision) return false;
  if (since !== undefined && (entry.time === undefined || Date.parse(entry.time) < since)) return false;
  return true;
}

/** `2026-01-01T00:00:00Z` or a duration back from now: `30s`, `15m`, `2h`, `7d`. */
export function parseSince(text: string, now: number): number | undefined {
  const duration = /^(\d{1,9})([smhd])$/.exec(text);
  if (duration !== null) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(duration[1]) * unit;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}
