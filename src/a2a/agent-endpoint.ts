import type { AgentCard } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import {
  DefaultRequestHandler,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  type TaskStore,
} from '@a2a-js/sdk/server';
import type { RefusalReceiptLimiter } from '../airlock/quota/refusal-limit.js';
import type { NonceStore } from '../identity/nonce-store.js';
import type { A2aAgent, A2aExecutor, A2aSecurityEvent } from './agent.js';
import type { InboundChecks, InboundReceipts } from './inbound-calls.js';
import { InboundGate } from './inbound-gate.js';
import { OacpAgentExecutor } from './oacp-executor.js';
import type { ReceiptPlace } from './result-artifact.js';
import type { TrustGraph } from './trust-graph.js';

export interface EndpointParts {
  readonly executor: A2aExecutor;
  readonly trust: TrustGraph;
  readonly nonces: NonceStore;
  readonly signedMessagesRequired: boolean;
  readonly localNameOf: (did: string) => Promise<string | undefined>;
  readonly onSecurityEvent?: (event: A2aSecurityEvent) => void;
  readonly receipts?: InboundReceipts;
  readonly checks?: InboundChecks;
  /** Bounds the receipts of unauthenticated refusals (InboundGateOptions.refusalLimiter). */
  readonly refusalLimiter?: RefusalReceiptLimiter<A2aAgent>;
  readonly now?: () => number;
  /** Where the agent's tasks live; in memory (this process) when absent. */
  readonly taskStore?: (agent: A2aAgent) => TaskStore;
}

/**
 * One agent's A2A stack: the SDK's DefaultRequestHandler over an in-memory task
 * store and OACP's executor, behind the inbound gate, with both JSON-RPC
 * dialects. Tasks live as long as this object (the node's process).
 */
export class AgentEndpoint {
  readonly gate: InboundGate;
  readonly v1: JsonRpcTransportHandler;
  readonly legacy: LegacyJsonRpcTransportHandler;

  constructor(
    readonly agent: A2aAgent,
    readonly card: AgentCard,
    place: ReceiptPlace,
    parts: EndpointParts,
  ) {
    const handler = new DefaultRequestHandler(
      card,
      parts.taskStore?.(agent) ?? new InMemoryTaskStore(),
      new OacpAgentExecutor(agent, parts.executor, place),
    );
    this.gate = new InboundGate(handler, {
      agent,
      trust: parts.trust,
      nonces: parts.nonces,
      signedMessagesRequired: parts.signedMessagesRequired,
      localNameOf: parts.localNameOf,
      ...(parts.onSecurityEvent === undefined ? {} : { onSecurityEvent: parts.onSecurityEvent }),
      ...(parts.receipts === undefined ? {} : { receipts: parts.receipts }),
      ...(parts.checks === undefined ? {} : { checks: parts.checks }),
      ...(parts.refusalLimiter === undefined ? {} : { refusalLimiter: parts.refusalLimiter }),
      ...(parts.now === undefined ? {} : { now: parts.now }),
    });
    this.v1 = new JsonRpcTransportHandler(this.gate);
    this.legacy = new LegacyJsonRpcTransportHandler(this.gate);
  }
}
