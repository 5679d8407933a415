import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type Manifest, ManifestSchema } from '../capability/manifest.js';
import { yaml as yamlLibrary } from '../core/yaml.js';
import { ToolPins } from '../policy/pins.js';
import { allPages } from './pages.js';
import type { ServerIdentity } from './server-identity.js';
import { toSdkTransport } from './transport.js';
import type { UpstreamConnector } from './upstream.js';

/** What a server offers, as seen from a locked-down start: the basis of a manifest. */
export interface ServerInventory {
  readonly server: ServerIdentity;
  readonly tier: string;
  readonly serverInfo?: { readonly name: string; readonly version: string };
  readonly capabilities: Record<string, unknown>;
  readonly tools: readonly {
    readonly name: string;
    readonly description?: string;
    readonly digest: string;
    /** The definition as listed (what `digest` is of), to pin or compare. */
    readonly definition: Readonly<Record<string, unknown>>;
  }[];
  readonly resources: readonly { readonly uri: string; readonly name: string }[];
  readonly resourceTemplates: readonly { readonly uriTemplate: string; readonly name: string }[];
  readonly prompts: readonly { readonly name: string; readonly description?: string }[];
}

/**
 * `oacp mcp package`: starts the server through `connector` (normally the
 * hardened tier with no grants), lists everything it offers, page by page,
 * and stops it. Listing needs no grants for a well-behaved server; one that
 * fails to start locked down says so through the error.
 */
export async function inspectServer(connector: UpstreamConnector): Promise<ServerInventory> {
  const link = await connector.connect();
  const client = new Client({ name: 'oacp-package', version: '1' });
  try {
    await client.connect(toSdkTransport(link.transport));
    const capabilities = (client.getServerCapabilities() ?? {}) as Record<string, unknown>;
    const info = client.getServerVersion();
    const tools =
      capabilities.tools === undefined ? [] : await allPages((params) => client.listTools(params), 'tools');
    const resources =
      capabilities.resources === undefined
        ? []
        : await allPages((params) => client.listResources(params), 'resources');
    // Servers that list resources but not templates answer "method not found": that is an empty list.
    const resourceTemplates =
      capabilities.resources === undefined
        ? []
        : await allPages((params) => client.listResourceTemplates(params), 'resourceTemplates').catch(
            (error: unknown) => {
              if ((error as { code?: unknown }).code === -32601) return [];
              throw error;
            },
          );
    const prompts =
      capabilities.prompts === undefined
        ? []
        : await allPages((params) => client.listPrompts(params), 'prompts');
    return {
      server: connector.identity,
      tier: link.tier,
      ...(info === undefined ? {} : { serverInfo: { name: info.name, version: info.version } }),
      capabilities,
      tools: tools.map((tool) => ({
        name: String(tool.name),
        ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
        digest: ToolPins.digest(tool),
        definition: tool,
      })),
      resources: resources.map((r) => ({ uri: String(r.uri), name: String(r.name) })),
      resourceTemplates: resourceTemplates.map((t) => ({
        uriTemplate: String(t.uriTemplate),
        name: String(t.name),
      })),
      prompts: prompts.map((p) => ({
        name: String(p.name),
        ...(typeof p.description === 'string' ? { description: p.description } : {}),
      })),
    };
  } finally {
    await client.close().catch(() => undefined);
    await link.stop();
  }
}

/**
 * A draft manifest granting exactly the tools the server listed and nothing
 * else: review it, add the files and hosts the server needs, then sign it.
 * The YAML carries the inventory and each tool's definition digest as comments.
 */
export function draftManifest(inventory: ServerInventory): { manifest: Manifest; yaml: string } {
  const manifest = ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: inventory.server.name,
    capabilities: { tools: { allow: inventory.tools.map((tool) => tool.name), deny: [] } },
  });
  const who =
    inventory.serverInfo === undefined
      ? ''
      : ` (${inventory.serverInfo.name} ${inventory.serverInfo.version})`;
  const lines = [
    `# Draft capability manifest for MCP server "${inventory.server.name}"${who}, written by oacp mcp package.`,
    `# Inspected in the ${inventory.tier} tier with no grants. It allows every listed tool and nothing else:`,
    '# add file_read/file_write paths, network hosts and env names the server needs, then review and sign it.',
    `# Command: ${[inventory.server.command ?? inventory.server.url ?? '', ...(inventory.server.args ?? [])].join(' ')}`,
    '#',
    '# Tools (sha256 of each definition, as the bridge pins them):',
    ...inventory.tools.map(
      (tool) =>
        `#   ${tool.name}  ${tool.digest}${tool.description === undefined ? '' : `  ${oneLine(tool.description)}`}`,
    ),
    ...(inventory.resources.length === 0
      ? []
      : ['# Resources:', ...inventory.resources.map((r) => `#   ${r.uri}  (${r.name})`)]),
    ...(inventory.resourceTemplates.length === 0
      ? []
      : [
          '# Resource templates:',
          ...inventory.resourceTemplates.map((t) => `#   ${t.uriTemplate}  (${t.name})`),
        ]),
    ...(inventory.prompts.length === 0
      ? []
      : [
          '# Prompts:',
          ...inventory.prompts.map(
            (p) => `#   ${p.name}${p.description === undefined ? '' : `  ${oneLine(p.description)}`}`,
          ),
        ]),
  ];
  return { manifest, yaml: `${lines.join('\n')}\n${yamlLibrary().stringify(manifest)}` };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 100)}…` : flat;
}
