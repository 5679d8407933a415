import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { CLIENTS, type ClientName, FORMATS } from '../../src/clients/locations.js';
import { SERVERS } from '../mcp/helpers.js';
import { oacp, tempDir } from './harness.js';

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const hardened = (await new HardenedTier().availability()).available;

/** A client's file as its documentation shows it, with one server started the usual way. */
function original(client: ClientName): string {
  const server = { command: process.execPath, args: [SERVERS.memory], env: { MEMORY_NOTE: 'kept' } };
  if (client === 'codex') {
    return `model = "o4"\n\n[mcp_servers.memory]\ncommand = ${JSON.stringify(server.command)}\nargs = [${JSON.stringify(SERVERS.memory)}]\nenv = { MEMORY_NOTE = "kept" }\n`;
  }
  if (client === 'vscode')
    return `${JSON.stringify({ servers: { memory: { type: 'stdio', ...server } } }, null, 2)}\n`;
  return `${JSON.stringify({ mcpServers: { memory: server }, otherSetting: true }, null, 2)}\n`;
}

function entryOf(
  client: ClientName,
  text: string,
): { command: string; args: string[]; env?: Record<string, string> } {
  const root = (client === 'codex' ? parseToml(text) : JSON.parse(text)) as Record<
    string,
    Record<string, unknown>
  >;
  return root[FORMATS[client].key]?.memory as {
    command: string;
    args: string[];
    env?: Record<string, string>;
  };
}

describe('oacp mcp install --client (each client format, end to end)', () => {
  it.each(CLIENTS)(
    '%s: rewrites the config, the SDK client starts exactly what it says, lists and calls; --uninstall restores',
    async (client) => {
      if (!existsSync(MAIN)) throw new Error('dist is missing: run npm run build first');
      const home = tempDir(`oacp-client-${client}-`);
      expect((await oacp(['--home', home, 'init'])).code).toBe(0);
      const path = join(tempDir('oacp-client-cfg-'), client === 'codex' ? 'config.toml' : 'mcp.json');
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, original(client));

      const dry = await oacp([
        '--home',
        home,
        'mcp',
        'install',
        '--client',
        client,
        '--config-path',
        path,
        '--oacp',
        MAIN,
        '--dry-run',
      ]);
      expect(dry.code).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe(original(client));

      const installed = await oacp([
        '--home',
        home,
        'mcp',
        'install',
        '--client',
        client,
        '--config-path',
        path,
        '--oacp',
        MAIN,
      ]);
      expect(installed.code).toBe(0);
      expect(installed.stderr).toContain('memory: now runs through oacp mcp run');
      expect(readFileSync(`${path}.oacp-backup`, 'utf8')).toBe(original(client));
      const text = readFileSync(path, 'utf8');
      expect(dry.stdout.trim()).toBe(text.trim());
      if (client !== 'codex' && client !== 'vscode') expect(JSON.parse(text).otherSetting).toBe(true);
      const entry = entryOf(client, text);
      expect(entry.args.slice(0, 6)).toEqual([MAIN, '--home', home, 'mcp', 'run', '--name']);
      expect(entry.args).toContain('--allow-env');

      const doctor = await oacp([
        '--home',
        home,
        'mcp',
        'doctor',
        '--client',
        client,
        '--config-path',
        path,
        '--oacp',
        MAIN,
      ]);
      expect(doctor.stdout).toBe('ok   memory: runs through oacp mcp run');

      // Spawn exactly what the file says, as the client would.
      const transport = new StdioClientTransport({
        command: entry.command,
        args: [
          ...entry.args.slice(0, entry.args.indexOf('--')),
          ...(hardened ? [] : ['--tier', 'light']),
          ...entry.args.slice(entry.args.indexOf('--')),
        ],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(entry.env ?? {}) },
        stderr: 'ignore',
      });
      const sdk = new Client({ name: `test-${client}`, version: '1' });
      await sdk.connect(transport);
      try {
        const tools = (await sdk.listTools()).tools.map((tool) => tool.name);
        expect(tools).toContain('read_graph');
        const result = await sdk.callTool({ name: 'read_graph', arguments: {} });
        expect(result.isError).not.toBe(true);
        expect(result._meta?.['oacp/receipt']).toBeDefined();
      } finally {
        await sdk.close();
      }

      const again = await oacp([
        '--home',
        home,
        'mcp',
        'install',
        '--client',
        client,
        '--config-path',
        path,
        '--oacp',
        MAIN,
      ]);
      expect(again.stderr).toContain('memory: already runs through OACP');
      const removed = await oacp([
        '--home',
        home,
        'mcp',
        'install',
        '--client',
        client,
        '--config-path',
        path,
        '--uninstall',
      ]);
      expect(removed.code).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe(original(client));
      expect(existsSync(`${path}.oacp-backup`)).toBe(false);
      const unprotected = await oacp([
        'mcp',
        'doctor',
        '--client',
        client,
        '--config-path',
        path,
        '--oacp',
        MAIN,
      ]);
      expect(unprotected.code).toBe(1);
      expect(unprotected.stdout).toContain('FAIL memory: runs outside OACP');
    },
    120_000,
  );

  it('refuses an unknown client and a file it cannot parse, changing nothing', async () => {
    expect((await oacp(['mcp', 'install', '--client', 'emacs'])).stderr).toBe(
      'oacp: --client must be one of claude, cursor, vscode, windsurf, codex, not "emacs"',
    );
    const path = join(tempDir('oacp-client-bad-'), 'mcp.json');
    writeFileSync(path, '{ not json');
    const result = await oacp([
      'mcp',
      'install',
      '--client',
      'cursor',
      '--config-path',
      path,
      '--oacp',
      MAIN,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/CLIENT_CONFIG_FORMAT: .*mcp\.json is not valid JSON/);
    expect(readFileSync(path, 'utf8')).toBe('{ not json');
  });
  it('attack: a client file past the bound every user-named file has (e.g. --config-path /dev/zero) is refused, not read whole', async () => {
    const path = join(tempDir('oacp-client-huge-'), 'mcp.json');
    writeFileSync(path, '');
    truncateSync(path, 64 * 1024 * 1024 + 1);
    for (const command of ['install', 'doctor']) {
      const result = await oacp([
        'mcp',
        command,
        '--client',
        'cursor',
        '--config-path',
        path,
        '--oacp',
        MAIN,
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/CLIENT_CONFIG_READ: cannot read .*mcp\.json: .*larger than/);
    }
  });
});
