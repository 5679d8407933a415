import { type McpRunOptions, parseMcpRunOptions } from '../../mcp/options.js';
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
    ...(server.quota_memory === undefined ? {} : { quotaMemory: server.quota_memory }),
    ...(server.quota_cpu === undefined ? {} : { quotaCpu: server.quota_cpu }),
    ...(server.quota_calls === undefined ? {} : { quotaCalls: server.quota_calls }),
    tools: server.tools,
    ...(server.policy === undefined ? {} : { policy: server.policy }),
    ...(server.pins === undefined ? {} : { pins: server.pins }),
    requireApproval: server.require_approval,
    ...(server.approval_timeout === undefined ? {} : { approvalTimeout: server.approval_timeout }),
    attestLevel: server.attest_level,
    ...(server.agent === undefined ? {} : { agent: server.agent }),
    learn: server.learn,
  });
}
