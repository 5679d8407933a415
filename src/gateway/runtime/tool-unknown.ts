import { jcsDigest } from '../../core/jcs.js';
import { splitToolName } from '../../mcp/tool-names.js';
import type { NativeTool } from './define-tool.js';
import { runtimeError } from './errors.js';
import type { ResolvedTool, ToolRegistry } from './tool-registry.js';

/** The server an unregistered name is recorded under when it names no configured MCP server. */
export const UNKNOWN_SERVER = 'unknown';

/** The metrics label of every unregistered name: callers choose the name, so it never becomes a label. */
export const UNKNOWN_TOOL_LABEL = '(unknown)';

/**
 * A name no tool is registered under, as the pipeline sees it: a call to it
 * is refused at the tools-list step, after the shape, receipt-slot and
 * identity checks, and recorded like every refusal. A name of a configured
 * MCP server (`<server>__<tool>`) is refused by that server's bridge (its
 * receipt names the server); any other by the gateway itself. It never runs.
 */
export function unknownTool(name: string, registry: ToolRegistry): ResolvedTool {
  const definitionDigest = jcsDigest({ name });
  const parts = splitToolName(name);
  const source = parts === undefined ? undefined : registry.source(parts.server);
  if (parts !== undefined && source !== undefined) {
    return {
      name,
      server: source.server,
      kind: 'mcp',
      description: '',
      inputSchema: {},
      attributes: {},
      definitionDigest,
      source,
      upstreamName: parts.tool,
    };
  }
  const tool: NativeTool = {
    kind: 'native',
    name,
    description: '',
    inputSchema: {},
    attributes: {},
    // No schema to hold the arguments to: the tools-list step refuses the call anyway.
    parse: (args) => ({ ok: true, value: args }),
    run: () => Promise.reject(runtimeError('RUNTIME_TOOL_UNKNOWN', `no tool named "${name}" is registered`)),
  };
  return { ...tool, server: UNKNOWN_SERVER, definitionDigest, tool };
}

/** The tools-list refusal of an unregistered name. */
export function unknownToolReason(name: string): string {
  return `no tool named "${name}" is registered`;
}
