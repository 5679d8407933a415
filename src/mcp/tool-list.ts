import type { GateParts } from './call-gate.js';
import { checkTool } from './tool-filter.js';

/**
 * Applies pinning and the tools list to a `tools/list` result: every
 * definition is pinned (or checked against its pin), and tools the client may
 * not call are left out, including those whose definition changed since it
 * was pinned, because the new description is exactly what a "rug pull" uses
 * to reach the model.
 */
export function processToolList(
  result: Record<string, unknown>,
  server: string,
  gate: Pick<GateParts, 'pins' | 'tools' | 'listed'>,
): Record<string, unknown> {
  const tools = result.tools;
  if (!Array.isArray(tools)) return result;
  const kept = tools.filter((tool: unknown) => {
    if (typeof tool !== 'object' || tool === null) return false;
    const definition = tool as Record<string, unknown> & { name?: unknown };
    if (typeof definition.name !== 'string') return false;
    const named = definition as Record<string, unknown> & { name: string };
    gate.listed?.observe(named.name, named.inputSchema);
    if (gate.pins !== undefined && gate.pins.observe(server, named).status === 'changed') return false;
    return gate.tools === undefined || checkTool(gate.tools, named.name).effect === 'allow';
  });
  return { ...result, tools: kept };
}
