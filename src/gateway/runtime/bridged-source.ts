import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { QuotaEngine } from '../../airlock/quota/engine.js';
import { sha256Hex } from '../../core/digest.js';
import { type ApprovalDesk, ApprovalService } from '../../mcp/approval.js';
import { createBridge } from '../../mcp/bridge.js';
import { type ActiveCall, interruptedRecord, toRecord } from '../../mcp/call-recorder.js';
import type { McpRunOptions } from '../../mcp/options.js';
import { ReceiptSlot } from '../../mcp/receipt-slot.js';
import { AttestedReceipts, type ReceiptWriter } from '../../mcp/receipts.js';
import { MemoryReceiptSink, type ReceiptRef } from '../../mcp/record.js';
import { toolFilterFromFlag } from '../../mcp/tool-filter.js';
import { fromSdkTransport } from '../../mcp/transport.js';
import { upstreamFor } from '../../mcp/upstream-from-options.js';
import type { IntentJournal } from '../../node/intent-journal.js';
import { PolicyEngine } from '../../policy/engine.js';
import { loadPolicyFile } from '../../policy/load.js';
import { ToolPins } from '../../policy/pins.js';
import type { Logger } from '../observability/logger.js';
import type { AgentSignerLookup } from './caller.js';
import type { BridgeCallResult, ListedTool, McpToolSource } from './mcp-source.js';
import type { ReceiptLink } from './receipt-recorder.js';

export interface BridgedSourceOptions {
  /** The server's options as `oacp mcp run` would parse them (mcpRunOptionsFor(config entry)). */
  readonly options: McpRunOptions;
  readonly home: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The gateway's durable quota engine: a server's network_requests_per_min is a bucket there
   * (the key `oacp mcp run` uses for the same server name), so a gateway restart does not refill it.
   */
  readonly quotaEngine?: QuotaEngine;
  /** Signs and logs receipts (the gateway's OacpNode). */
  readonly node: ReceiptWriter & {
    readonly origin: string;
    readonly log: { entry(index: number): Promise<Uint8Array> };
    /** Where each forwarded call's `interrupted` receipt waits for its real one (OacpNode.intents). */
    intents?(): Pick<IntentJournal, 'write' | 'done'>;
  };
  /** The calling agent's key: it signs the request that names it to the bridge, and co-signs with `coSign`. */
  readonly signerOf: AgentSignerLookup;
  readonly coSign: boolean;
  readonly logger: Logger;
  /** The gateway's receipt slot (shared with its native tools); one of its own when absent. */
  readonly slot?: ReceiptSlot;
  /** Where `require_approval` calls wait for an operator (the gateway's queue); without it they are refused. */
  readonly approvals?: ApprovalDesk;
}

const RECEIPT_META = 'oacp/receipt';

/**
 * An MCP server configured under `mcp.servers`, reached through the MCP
 * bridge library in-process: the server runs in its Airlock tier, and every
 * call passes the bridge's own gate (pins, tools list, its Cedar policy,
 * approvals, call quota) and gets the bridge's receipt. The gateway proves
 * who calls by signing the bridge's agent request with the agent's key, so
 * the bridge's principal is the agent's did:key; with attestation standard
 * the receipt is co-signed by that key too.
 */
export async function bridgedSource(config: BridgedSourceOptions): Promise<McpToolSource> {
  const { options, quotaEngine } = config;
  const upstream = await upstreamFor(
    options,
    {
      home: config.home,
      ...(config.env === undefined ? {} : { env: config.env }),
      ...(quotaEngine === undefined ? {} : { quotas: { engine: async () => quotaEngine } }),
    },
    (line) => config.logger.debug('mcp server', { line }),
  );
  const server = upstream.identity.name;
  const slot = config.slot ?? new ReceiptSlot();
  const intents = config.node.intents?.bind(config.node);
  const journal = intents === undefined ? {} : { journal: intents };
  const recorder = {
    async finish(
      finished: Parameters<typeof toRecord>[0],
      usage: Parameters<typeof toRecord>[1],
    ): Promise<ReceiptRef> {
      const record = toRecord(finished, usage);
      const coSigner =
        config.coSign && record.agent.startsWith('did:key:')
          ? await config.signerOf(record.agent)
          : undefined;
      const receipts = new AttestedReceipts({
        writer: config.node,
        origin: config.node.origin,
        ...journal,
        ...(coSigner === undefined ? {} : { agentSigner: coSigner }),
      });
      return slot.track(receipts.record(record));
    },
    // Nothing is forwarded while the gateway's log cannot take a receipt.
    reserve: () => slot.check(),
    intend: (call: ActiveCall) =>
      new AttestedReceipts({ writer: config.node, origin: config.node.origin, ...journal }).intend(
        interruptedRecord(call),
      ),
  };
  const bridge = createBridge({
    upstream,
    receipts: new MemoryReceiptSink(),
    recorder,
    pins: new ToolPins({ path: options.pins ?? join(config.home, 'mcp', 'pins', `${server}.json`) }),
    ...(options.policy === undefined ? {} : { policy: new PolicyEngine(loadPolicyFile(options.policy)) }),
    ...(options.tools.length === 0 ? {} : { tools: toolFilterFromFlag(options.tools) }),
    ...(options.requireApproval.length === 0
      ? {}
      : {
          approval: {
            tools: options.requireApproval,
            approver: new ApprovalService({
              timeoutMs: options.approvalTimeout,
              ...(config.approvals === undefined ? {} : { desk: config.approvals }),
            }),
          },
        }),
    // quota_calls is charged by the gateway's quota engine (shared, persistent), not a bucket in this process.
    onEvent: (event) => config.logger.info('mcp bridge event', { server, ...event }),
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const session = await bridge.serve(fromSdkTransport(serverSide));
  // The SDK client initializes the session and lists tools (pinning them); calls go to the pipeline directly.
  const client = new Client({ name: 'oacp-gateway', version: '1' });
  await client.connect(clientSide);

  const receiptOf = async (holder: unknown): Promise<ReceiptLink | undefined> => {
    const ref = (holder as Record<string, unknown> | undefined)?.[RECEIPT_META] as
      | { index?: unknown }
      | undefined;
    if (typeof ref?.index !== 'number') return undefined;
    return {
      index: ref.index,
      envelopeDigest: sha256Hex(await config.node.log.entry(ref.index)),
      log: config.node.origin,
    };
  };

  return {
    server,
    async list(): Promise<ListedTool[]> {
      const listed = await client.listTools();
      return listed.tools.map((tool) => ({
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        inputSchema: tool.inputSchema as Record<string, unknown>,
        definitionDigest: ToolPins.digest(tool as unknown as Record<string, unknown>),
      }));
    },
    async call(tool, args, caller, given = {}): Promise<BridgeCallResult> {
      const { outcome, decision, checks } = await session.call({
        tool,
        arguments: args,
        agent: caller.did,
        ...(given.prior === undefined ? {} : { prior: given.prior }),
        ...(given.identityRefused === undefined ? {} : { identityRefused: given.identityRefused }),
        ...(given.signal === undefined ? {} : { signal: given.signal }),
      });
      if ('error' in outcome) {
        return {
          error: { code: outcome.error.code, message: outcome.error.message },
          isError: true,
          receipt: await receiptOf(outcome.error.data),
          decision,
          checks,
        };
      }
      return {
        result: outcome.result,
        isError: outcome.result.isError === true,
        receipt: await receiptOf(outcome.result._meta),
        decision,
        checks,
      };
    },
    async close() {
      await client.close().catch(() => undefined);
      await bridge.close();
    },
  };
}
