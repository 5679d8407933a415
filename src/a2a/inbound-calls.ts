import type { Message } from '@a2a-js/sdk';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import type { PipelineVerdict } from '../mcp/call-pipeline.js';
import type { ToolCallRecord } from '../mcp/record.js';
import type { A2aAgent } from './agent.js';

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
  return {
    callId,
    server: { name: `a2a:${agent.name}`, command: 'oacp-gateway', args: ['a2a', agent.did] },
    tier: agent.tier,
    agent: sender ?? 'unverified',
    tool: A2A_MESSAGE_TOOL,
    upstreamTool: A2A_MESSAGE_TOOL,
    toolDefinitionDigest: agent.manifestDigest,
    policyDigest: verdict.checks.policy?.policyDigest ?? sha256Hex(''),
    argumentsDigest: jcsDigest(verdict.arguments ?? null),
    decision: verdict.decision,
    checks: verdict.checks,
    outcome: 'denied',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
  };
}

/**
 * The receipt record of a message refused before it could be read: its body nests past the
 * gateway's limit, so the pipeline's shape check (oacp/shape) refused it with nothing parsed
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
