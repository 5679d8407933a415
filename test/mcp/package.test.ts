import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ManifestSchema } from '../../src/capability/manifest.js';
import { packageMcpCommand } from '../../src/mcp/package-command.js';
import { SERVERS } from './helpers.js';

describe('oacp mcp package', () => {
  it('lists what the everything server offers and drafts a manifest allowing exactly its tools', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'oacp-package-')), 'everything.oacp.yaml');
    const { inventory, yaml } = await packageMcpCommand(
      { command: [process.execPath, SERVERS.everything, 'stdio'], tier: 'light', name: 'everything', out },
      { log: () => undefined },
    );
    expect(inventory.serverInfo?.name).toBe('mcp-servers/everything');
    const tools = inventory.tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    expect(inventory.resources.length).toBeGreaterThan(0);
    expect(inventory.prompts.map((p) => p.name)).toContain('simple-prompt');
    expect(readFileSync(out, 'utf8')).toBe(yaml);
    const manifest = ManifestSchema.parse(parse(yaml));
    expect(manifest.name).toBe('everything');
    expect(manifest.capabilities.tools.allow).toEqual(tools);
    expect(manifest.capabilities.file_read).toEqual([]);
    expect(manifest.capabilities.network.allowlist).toEqual([]);
    expect(yaml).toMatch(/^# Draft capability manifest for MCP server "everything"/);
    expect(yaml).toMatch(/# {3}echo {2}[0-9a-f]{64}/);
  });

  it('refuses a missing command', async () => {
    await expect(packageMcpCommand({ command: [] })).rejects.toThrow(/give the server command/);
  });
});
