import { qualifiedToolName } from '../../mcp/tool-names.js';
import { ToolPins } from '../../policy/pins.js';
import type { NativeTool, ToolAttributes } from './define-tool.js';
import { runtimeError } from './errors.js';
import type { McpToolSource } from './mcp-source.js';

/** The server name native tools are attributed to in policies (`context.server`) and receipts. */
export const NATIVE_SERVER = 'native';

/** A tool as clients see it in the list. */
export interface ToolInfo {
  readonly name: string;
  readonly server: string;
  readonly kind: 'native' | 'mcp';
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly attributes: ToolAttributes;
  /** JCS sha256 of the definition (name, description, schema): what receipts name. */
  readonly definitionDigest: string;
}

export type ResolvedTool =
  | (ToolInfo & { readonly kind: 'native'; readonly tool: NativeTool })
  | (ToolInfo & { readonly kind: 'mcp'; readonly source: McpToolSource; readonly upstreamName: string });

/**
 * Every tool the gateway can call: native TypeScript tools and the tools of
 * each configured MCP server (named `<server>__<tool>`, src/mcp/tool-names.ts). Names are unique; a
 * second registration under a taken name is refused rather than shadowing.
 */
export class ToolRegistry {
  private readonly native = new Map<string, ResolvedTool>();
  private readonly remote = new Map<string, ResolvedTool>();
  private readonly sources = new Map<string, McpToolSource>();

  register(tool: NativeTool): void {
    if (this.native.has(tool.name) || this.remote.has(tool.name)) {
      throw runtimeError('RUNTIME_TOOL_EXISTS', `a tool named "${tool.name}" is already registered`);
    }
    const definition = { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
    this.native.set(tool.name, {
      ...definition,
      kind: 'native',
      server: NATIVE_SERVER,
      attributes: tool.attributes,
      definitionDigest: ToolPins.digest(definition),
      tool,
    });
  }

  /** Adds an MCP server and lists its tools now, so a server that cannot start fails here. */
  async addSource(
    source: McpToolSource,
    attributes: Readonly<Record<string, ToolAttributes>> = {},
  ): Promise<void> {
    if (this.sources.has(source.server)) {
      throw runtimeError(
        'RUNTIME_TOOL_EXISTS',
        `an MCP server named "${source.server}" is already configured`,
      );
    }
    this.sources.set(source.server, source);
    for (const listed of await source.list()) {
      const name = qualifiedToolName(source.server, listed.name);
      if (this.native.has(name)) {
        throw runtimeError(
          'RUNTIME_TOOL_EXISTS',
          `MCP tool ${name} collides with a native tool of that name`,
        );
      }
      this.remote.set(name, {
        name,
        server: source.server,
        kind: 'mcp',
        description: listed.description ?? '',
        inputSchema: listed.inputSchema,
        attributes: { ...(attributes[listed.name] ?? {}) },
        definitionDigest: listed.definitionDigest,
        source,
        upstreamName: listed.name,
      });
    }
  }

  /** The configured MCP server of that name. */
  source(server: string): McpToolSource | undefined {
    return this.sources.get(server);
  }

  resolve(name: string): ResolvedTool | undefined {
    return this.native.get(name) ?? this.remote.get(name);
  }

  list(): ToolInfo[] {
    return [...this.native.values(), ...this.remote.values()]
      .map(({ name, server, kind, description, inputSchema, attributes, definitionDigest }) => ({
        name,
        server,
        kind,
        description,
        inputSchema,
        attributes,
        definitionDigest,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.sources.values()].map((source) => source.close()));
  }
}
