import { OacpError } from '../../core/errors.js';
import { type McpRunOptions, parseMcpRunOptions } from '../../mcp/options.js';
import type { ConfigErrorCode } from './errors.js';
import { loadGatewayConfig } from './load.js';
import type { McpServerConfig } from './mcp-section.js';

/**
 * The `oacp mcp run` options equivalent to one `mcp.servers` entry, parsed by
 * the MCP layer's own schema, so a server behaves the same from the config
 * file as from flags.
 */
export function mcpRunOptionsFor(server: McpServerConfig): McpRunOptions {
  return parseMcpRunOptions({
    name: server.name,
    command: server.command === undefined ? [] : [server.command, ...server.args],
    ...(server.url === undefined ? {} : { upstream: server.url }),
    tier: server.tier,
    ...(server.manifest === undefined ? {} : { manifest: server.manifest }),
    allowFiles: server.allow_files,
    allowNetwork: server.allow_network,
    allowEnv: server.allow_env,
    allowUnixSockets: server.allow_unix_sockets,
    nodePreload: server.node_preload,
    ...(server.quota_memory === undefined ? {} : { quotaMemory: server.quota_memory }),
    ...(server.quota_tmp === undefined ? {} : { quotaTmp: server.quota_tmp }),
    ...(server.quota_cpu === undefined ? {} : { quotaCpu: server.quota_cpu }),
    ...(server.quota_startup_cpu === undefined ? {} : { quotaStartupCpu: server.quota_startup_cpu }),
    ...(server.quota_calls === undefined ? {} : { quotaCalls: server.quota_calls }),
    tools: server.tools,
    ...(server.policy === undefined ? {} : { policy: server.policy }),
    ...(server.pins === undefined ? {} : { pins: server.pins }),
    requireApproval: server.require_approval,
    approvalShowArguments: server.approval_show_arguments,
    ...(server.approval_timeout === undefined ? {} : { approvalTimeout: server.approval_timeout }),
    attestLevel: server.attest_level,
    ...(server.agent === undefined ? {} : { agent: server.agent }),
    learn: server.learn,
  });
}

/**
 * `oacp mcp run --config FILE`: the servers of the same oacp.yaml the gateway
 * reads (one schema, paths relative to the file), as bridge options by name.
 */
export function mcpServersFromFile(path: string): Map<string, McpRunOptions> {
  return mcpFrontFromFile(path).servers;
}

/** The servers of `--config FILE`, and the front's own settings (`mcp.refusal_receipts`; a flag wins). */
export function mcpFrontFromFile(path: string): {
  readonly servers: Map<string, McpRunOptions>;
  readonly refusalReceipts: number | undefined;
} {
  const config = loadGatewayConfig(path);
  if (config.mcp.servers.length === 0) {
    throw new OacpError<ConfigErrorCode>(
      'GATEWAY_CONFIG_INVALID',
      `${path}: mcp.servers: name at least one server`,
    );
  }
  const servers = new Map<string, McpRunOptions>();
  for (const server of config.mcp.servers) {
    try {
      servers.set(server.name, mcpRunOptionsFor(server));
    } catch (error) {
      throw new OacpError<ConfigErrorCode>(
        'GATEWAY_CONFIG_INVALID',
        `${path}: mcp.servers.${server.name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return { servers, refusalReceipts: config.mcp.refusal_receipts };
}
