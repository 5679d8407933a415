import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, it } from 'vitest';
import { withLogState } from '../log-state.js';
import { binaryBuilt } from './harness.js';

/**
 * A server that unpacks a 100 MiB cache under HOME at start. In a sandbox
 * HOME is the /tmp tmpfs of quotas.tmp_mb (64 MiB by default), so it stops
 * with ENOSPC: a deliberate limit, and the bridge's stop line must name the
 * flag that lifts it, then the field (before, it said only the server's last
 * lines, then only the field: no flag raised it); with --quota-tmp 256mb, or
 * a manifest raising quotas.tmp_mb, the same server starts.
 */
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const SERVER = join(import.meta.dirname, 'fixtures', 'unpacks-cache-server.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'oacp-compat-tmp-'));
const home = join(scratch, 'oacp');
const env = withLogState({ PATH: '/usr/bin:/bin', HOME: scratch });

// The same with 20000 empty files: no size to speak of, but past the /tmp file cap (tmpfs-inodes.ts).
const MANY_FILES = join(import.meta.dirname, 'fixtures', 'unpacks-many-files-server.mjs');

async function start(extra: string[], server = SERVER): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, '--home', home, 'mcp', 'run', '--tier', 'hardened', ...extra, '--', process.execPath, server],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: 'oacp-compat', version: '1.0.0' });
  await client.connect(transport).catch((error: unknown) => {
    void client.close();
    throw new Error(`${(error as Error).message}\n${stderr}`);
  });
  return { client, stderr: () => stderr };
}

describe.skipIf(!binaryBuilt() || process.getuid?.() !== 0)('compat: a server that fills its /tmp', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('stops with ENOSPC and the bridge names --quota-tmp, then quotas.tmp_mb', async () => {
    const init = spawnSync(process.execPath, [BIN, '--home', home, 'init'], { env, encoding: 'utf8' });
    expect(init.status).toBe(0);
    const refusal = await start([]).then(
      async ({ client }) => {
        await client.close();
        return 'started';
      },
      (error: Error) => error.message,
    );
    expect(refusal).toMatch(/ENOSPC/);
    expect(refusal).toMatch(/it may need more room in its \/tmp, which is also its HOME .*quotas\.tmp_mb/);
    expect(refusal).toMatch(
      /: --quota-tmp <size>, e\.g\. --quota-tmp 256mb \(manifest: quotas\.tmp_mb: <MiB>\)/,
    );
  }, 120_000);

  it('starts with --quota-tmp 256mb', async () => {
    const { client } = await start(['--quota-tmp', '256mb']);
    try {
      expect(Array.isArray((await client.listTools()).tools)).toBe(true);
    } finally {
      await client.close();
    }
  }, 120_000);

  it('starts with a manifest raising quotas.tmp_mb', async () => {
    const manifest = join(scratch, 'cache.yaml');
    writeFileSync(
      manifest,
      'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: cache\nquotas:\n  tmp_mb: 256\n',
    );
    const { client } = await start(['--manifest', manifest]);
    try {
      expect(Array.isArray((await client.listTools()).tools)).toBe(true);
    } finally {
      await client.close();
    }
  }, 120_000);

  it('stops at the /tmp file cap with ENOSPC, names quotas.tmp_mb, and starts once it is raised', async () => {
    const refusal = await start([], MANY_FILES).then(
      async ({ client }) => {
        await client.close();
        return 'started';
      },
      (error: Error) => error.message,
    );
    expect(refusal).toMatch(/ENOSPC/);
    expect(refusal).toMatch(
      /it may need more room in its \/tmp, which is also its HOME .*16384 files.*quotas\.tmp_mb/,
    );
    const manifest = join(scratch, 'files.yaml');
    writeFileSync(
      manifest,
      'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: files\nquotas:\n  tmp_mb: 256\n',
    );
    const { client } = await start(['--manifest', manifest], MANY_FILES);
    try {
      expect(Array.isArray((await client.listTools()).tools)).toBe(true);
    } finally {
      await client.close();
    }
  }, 120_000);
});
