import type { PriorChecks } from '../../mcp/call-gate.js';
import type { CallChecks } from '../../mcp/record.js';
import type { ReceiptLink } from './receipt-recorder.js';

/** One tool an MCP server lists. */
export interface ListedTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly definitionDigest: string;
}

/** Who a call through the bridge is made as: the agent the gateway authenticated. */
export interface BridgeCaller {
  readonly did: string;
  readonly name: string;
}

/** The outcome of a call the bridge forwarded (or refused), with the receipt the bridge logged. */
export interface BridgeCallResult {
  /** The tool's result, or the denial as an MCP tool error; absent when the server answered a JSON-RPC error. */
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
  readonly isError: boolean;
  readonly receipt: ReceiptLink | undefined;
  /** The pipeline's one decision and every check behind it. */
  readonly decision: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly checks: CallChecks;
}

/** An MCP server reached through the MCP bridge (its checks, pins and receipts apply). */
export interface McpToolSource {
  readonly server: string;
  list(): Promise<ListedTool[]>;
  /**
   * Runs the bridge's pipeline directly, the gateway's checks (`prior`) joined
   * into its one decision; `identityRefused` (a replayed signed request) makes
   * its identity step refuse, and the refusal is recorded.
   */
  call(
    tool: string,
    args: unknown,
    caller: BridgeCaller,
    checks?: {
      readonly prior?: PriorChecks;
      readonly identityRefused?: string;
      /** The gateway caller went away: a forwarded call is cancelled upstream (notifications/cancelled). */
      readonly signal?: AbortSignal;
    },
  ): Promise<BridgeCallResult>;
  close(): Promise<void>;
}
