import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { oacp, oacpBinary, tempDir } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const resolveModule = createRequire(import.meta.url).resolve;
const FILESYSTEM = resolveModule('@modelcontextprotocol/server-filesystem/dist/index.js');
const MEMORY = resolveModule('@modelcontextprotocol/server-memory/dist/index.js');

describe('oacp mcp (the real CLI as a subprocess)', () => {
  it('bridges the filesystem server over stdio: allowed read, receipt in _meta, then verify from the exported log', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    await oacp(['--home', home, 'init']);
    const data = join(root, 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    writeFileSync(join(data, 'hello.txt'), 'hello through the bridge\n', { mode: 0o644 });

    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          BIN,
          '--home',
          home,
          'mcp',
          'run',
          '--tier',
          'hardened',
          '--allow-files',
          data,
          '--',
          process.execPath,
          FILESYSTEM,
          data,
        ],
        stderr: 'pipe',
      }),
    );
    const read = await client.callTool({
      name: 'read_text_file',
      arguments: { path: join(data, 'hello.txt') },
    });
    expect(JSON.stringify(read.content)).toContain('hello through the bridge');
    const meta = read._meta?.['oacp/receipt'] as { index: number };
    expect(meta.index).toBe(0);
    await client.close();

    const out = join(root, 'export');
    expect((await oacp(['--home', home, 'log', 'export', '0', '--out', out])).code).toBe(0);
    const keys = join(root, 'keys');
    await oacp(['--home', home, 'keys', 'export', '--out', keys]);
    const verified = oacpBinary([
      'verify',
      join(out, 'receipt.json'),
      '--proof',
      join(out, 'receipt.json.tlog-proof'),
      '--log-key',
      join(keys, 'log.vkey'),
      '--signer-key',
      join(keys, 'signer.pem'),
    ]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('trust level: Basic');
  });

  it('mcp package lists a server locked down and drafts a manifest allowing exactly its tools', () => {
    const result = oacpBinary(['mcp', 'package', '--tier', 'hardened', '--', process.execPath, MEMORY]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('kind: CapabilityManifest');
    expect(result.stdout).toContain('create_entities');
  });

  it('refuses bad flags with the flag named and a usage-style exit', async () => {
    const home = join(tempDir(), 'home');
    await oacp(['--home', home, 'init']);
    const bad = await oacp(['--home', home, 'mcp', 'run', '--quota-calls', 'lots', '--', '/bin/true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^oacp: --quota-calls lots: must be a rate/);
  });
});
