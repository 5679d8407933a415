import type { z } from 'zod';
import { oldFormToolName } from '../../mcp/tool-names.js';

interface Named {
  readonly mcp: { readonly servers: readonly { readonly name: string }[] };
  readonly sandbox: {
    readonly capabilities: {
      readonly tools: { readonly allow: readonly string[]; readonly deny: readonly string[] };
    };
  };
  readonly quotas: { readonly tools: Readonly<Record<string, number>> };
}

/**
 * MCP tools are named `<server>__<tool>` (src/mcp/tool-names.ts). A name in
 * the earlier gateway form `<server>.<tool>` (or `<server>.*`) for a
 * configured server would silently match nothing; it stops the file with the
 * field and the name to write instead.
 */
export function refuseOldToolNames(config: Named, ctx: z.RefinementCtx): void {
  // Zod runs this even when a section failed to parse: read only what is there.
  const servers = (config.mcp?.servers ?? []).map((server) => server.name);
  const check = (name: string, path: PropertyKey[]) => {
    const renamed = oldFormToolName(name, servers);
    if (renamed === undefined) return;
    ctx.addIssue({
      code: 'custom',
      path,
      message: `"${name}" uses the old <server>.<tool> form: MCP tools are named <server>__<tool>, write "${renamed}"`,
    });
  };
  const tools = config.sandbox?.capabilities?.tools;
  for (const list of ['allow', 'deny'] as const) {
    for (const [index, name] of (tools?.[list] ?? []).entries()) {
      check(name, ['sandbox', 'capabilities', 'tools', list, index]);
    }
  }
  for (const name of Object.keys(config.quotas?.tools ?? {})) check(name, ['quotas', 'tools', name]);
}
