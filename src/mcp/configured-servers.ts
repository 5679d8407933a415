import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';
import type { McpRunOptions } from './options.js';

/**
 * The servers of `--config`, with the command line's receipt acknowledgement
 * applied to each. The file is read by the caller with the one oacp.yaml
 * schema (it lives with the gateway's configuration, above this layer).
 */
export function configuredServers(
  options: McpRunOptions,
  servers: ReadonlyMap<string, McpRunOptions> | undefined,
): Map<string, McpRunOptions> {
  if (servers === undefined || servers.size === 0) {
    throw new OacpError<McpErrorCode>(
      'MCP_CONFIG',
      `--config ${options.config ?? ''}: no servers loaded (read the file with mcpServersFromFile from the gateway config)`,
    );
  }
  return new Map(
    [...servers].map(([name, server]) => [
      name,
      { ...server, receiptAck: options.receiptAck, approvalTimeout: server.approvalTimeout },
    ]),
  );
}
