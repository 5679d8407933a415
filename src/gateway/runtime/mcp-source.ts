import type { ReceiptLink } from './receipt-recorder.js';

/** One tool an MCP server lists. */
export interface ListedTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly definitionDigest: string;
}

/** Who a call through the bridge is made as: the agent's did, proven by a request the gateway signs with its key. */
export interface BridgeCaller {
  readonly did: string;
  readonly name: string;
}

/** The outcome of a call the bridge forwarded (or refused), with the receipt the bridge logged. */
export interface BridgeCallResult {
  readonly result: Record<string, unknown>;
  readonly isError: boolean;
  readonly receipt: ReceiptLink | undefined;
}

/** An MCP server reached through the MCP bridge (its checks, pins and receipts apply). */
export interface McpToolSource {
  readonly server: string;
  list(): Promise<ListedTool[]>;
  call(
    tool: string,
    args: Readonly<Record<string, unknown>>,
    caller: BridgeCaller,
  ): Promise<BridgeCallResult>;
  close(): Promise<void>;
}
