import type { Message } from '@a2a-js/sdk';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import type { PipelineVerdict } from '../mcp/call-pipeline.js';
import type { ToolCallRecord } from '../mcp/record.js';
import type { A2aAgent } from './agent.js';
import type { A2aTaskInput } from './extension.js';

/** How an inbound A2A message is named in its receipt (tool-call predicate, docs/a2a.md). */
export const A2A_MESSAGE_TOOL = 'a2a:message/send';

/**
 * Where refusals of inbound A2A messages are recorded: the node's receipt log
 * (the gateway passes its ReceiptRecorder). Without it, refusals are security
 * events only.
 */
export interface InboundReceipts {
  /** Throws when the log cannot take a receipt now: the message is refused then, before it runs. */
  reserve(): void;
  /** Signs and logs the record; resolves to its log index. */
  record(record: ToolCallRecord): Promise<{ readonly index: number }>;
}

type Check = { readonly effect: 'allow' | 'deny'; readonly reason: string };

/** Who sends what to whom, as the node's own checks see an inbound message. */
export interface InboundFacts {
  readonly agent: A2aAgent;
  /** The verified sender's did:key; null for an unsigned message (when those are allowed). */
  readonly sender: string | null;
  /** The sender's local name when it is an agent of this node. */
  readonly senderName?: string;
}

/**
 * The node's own checks on an inbound message, run by decideCall in its
 * order after identity: its global policies (one Cedar decision, every
 * policy named with the set's digest), then its quotas (last, so a refused
 * message costs none).
 */
export interface InboundChecks {
  policy?(
    facts: InboundFacts,
  ): Check & { readonly policyIds: readonly string[]; readonly policyDigest: string };
  quota?(facts: InboundFacts): Promise<Check>;
}

/** What is judged and digested of a message: its id and its parts' content, as the agent would get them. */
export function messageArguments(message: Message): Record<string, unknown> {
  const texts: string[] = [];
  const data: unknown[] = [];
  for (const part of message.parts) {
    if (part.content?.$case === 'text') texts.push(part.content.value);
    else if (part.content?.$case === 'data') data.push(part.content.value ?? null);
  }
  return { messageId: message.messageId, text: texts.join('\n'), data };
}

/** The receipt record of an inbound message the pipeline refused. */
export function refusalRecord(
  agent: A2aAgent,
  callId: string,
  verdict: PipelineVerdict,
  sender: string | undefined,
  startedAt: Date,
): ToolCallRecord {
  return inboundRefusal(agent, callId, A2A_MESSAGE_TOOL, startedAt, {
    agent: sender ?? 'unverified',
    policyDigest: verdict.checks.policy?.policyDigest ?? sha256Hex(''),
    argumentsDigest: jcsDigest(verdict.arguments ?? null),
    decision: verdict.decision,
    checks: verdict.checks,
  });
}

/** One refused inbound call of `tool` to `agent`, as the node records it. */
function inboundRefusal(
  agent: A2aAgent,
  callId: string,
  tool: string,
  startedAt: Date,
  what: Pick<ToolCallRecord, 'agent' | 'policyDigest' | 'argumentsDigest' | 'decision' | 'checks'>,
): ToolCallRecord {
  return {
    callId,
    server: { name: `a2a:${agent.name}`, command: 'oacp-gateway', args: ['a2a', agent.did] },
    tier: agent.tier,
    tool,
    upstreamTool: tool,
    toolDefinitionDigest: agent.manifestDigest,
    ...what,
    outcome: 'denied',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
  };
}

/**
 * The receipt record of a message refused before it could be read: its body is over the
 * gateway's size limit or nests past its depth limit, so the pipeline's shape check (oacp/shape) refused it with nothing parsed
 * (argumentsDigest is then the digest of null, and the sender is unverified).
 */
export function unreadRefusalRecord(
  agent: A2aAgent,
  callId: string,
  reason: string,
  startedAt: Date,
): ToolCallRecord {
  const decision = { effect: 'deny' as const, reason };
  return refusalRecord(
    agent,
    callId,
    {
      stage: 'shape',
      tool: A2A_MESSAGE_TOOL,
      arguments: undefined,
      agent: undefined,
      decision,
      checks: { shape: decision },
    },
    undefined,
    startedAt,
  );
}

/**
 * The receipt record of a message the node admitted (its signature verified, its nonce spent
 * here) and then could not run, because its agent moved to another node meanwhile: refused at
 * placement (oacp/placement) with `reason`, under the verified sender, `argumentsDigest` that of
 * the message's `{messageId, text, data}` as for every refused message. It never ran.
 */
export function unrunRefusalRecord(
  agent: A2aAgent,
  callId: string,
  input: A2aTaskInput,
  reason: string,
  startedAt: Date,
): ToolCallRecord {
  const decision = { effect: 'deny' as const, reason };
  return inboundRefusal(agent, callId, A2A_MESSAGE_TOOL, startedAt, {
    agent: input.from ?? 'unverified',
    policyDigest: sha256Hex(''),
    argumentsDigest: jcsDigest({ messageId: input.messageId, text: input.text, data: input.data }),
    decision,
    checks: { placement: decision },
  });
}

/** The task methods a caller is refused by OACP's own checks (the task's owner), as named in receipts. */
export type A2aTaskMethod =
  | 'tasks/get'
  | 'tasks/cancel'
  | 'tasks/resubscribe'
  | 'tasks/pushNotificationConfig/set'
  | 'tasks/pushNotificationConfig/get'
  | 'tasks/pushNotificationConfig/list'
  | 'tasks/pushNotificationConfig/delete';

/**
 * The receipt record of a task call refused because the caller is not the task's owner:
 * tool `a2a:<method>`, arguments `{taskId}`, refused at the identity step (oacp/agent) with
 * `reason` (words the caller may read: the receipt is public), the caller unverified.
 */
export function taskRefusalRecord(
  agent: A2aAgent,
  callId: string,
  method: A2aTaskMethod,
  taskId: string,
  reason: string,
  startedAt: Date,
): ToolCallRecord {
  return inboundRefusal(agent, callId, `a2a:${method}`, startedAt, {
    agent: 'unverified',
    policyDigest: sha256Hex(''),
    argumentsDigest: jcsDigest({ taskId }),
    decision: { effect: 'deny', reason },
    checks: {},
  });
}

/** How the summary of refusals answered without a receipt is named in its receipt. */
export const A2A_SUPPRESSED_TOOL = 'a2a:refusals-suppressed';

/**
 * The one receipt for the refusals of unauthenticated input an agent answered without a
 * receipt of their own over a window (RefusalReceiptLimiter): how many, from how many
 * sources, and when. The sources' addresses are not in it (the log is public); the
 * operator's security event names them.
 */
export function suppressedRefusalsRecord(
  agent: A2aAgent,
  callId: string,
  summary: { readonly count: number; readonly sources: number; readonly from: Date; readonly to: Date },
): ToolCallRecord {
  const window = { from: summary.from.toISOString(), to: summary.to.toISOString() };
  const reason =
    `${summary.count} unauthenticated refusals from ${summary.sources} source${summary.sources === 1 ? '' : 's'} ` +
    `were answered without a receipt of their own between ${window.from} and ${window.to} ` +
    '(over a2a.refusal_receipts, docs/receipts.md)';
  return inboundRefusal(agent, callId, A2A_SUPPRESSED_TOOL, summary.from, {
    agent: 'unverified',
    policyDigest: sha256Hex(''),
    argumentsDigest: jcsDigest({ suppressed: summary.count, sources: summary.sources, ...window }),
    decision: { effect: 'deny', reason },
    checks: {},
  });
}
