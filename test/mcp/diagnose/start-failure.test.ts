import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/identity/keystore.js';
import { permissionHints } from '../../../src/mcp/diagnose/permission-hints.js';
import { runMcpCommand } from '../../../src/mcp/run.js';
import { writeNodeConfig } from '../../../src/node/node-config.js';
import { PipeClientTransport, testClient } from '../helpers.js';

describe('why a server failed to start', () => {
  it('names the missing permission and the flag and manifest line that grant it', () => {
    expect(
      permissionHints([
        'Error: GITHUB_TOKEN environment variable is required',
        "Error: EACCES: permission denied, open '/srv/notes/todo.md'",
        'Error: EROFS: read-only file system, mkdir /var/cache/thing',
        'FetchError: getaddrinfo ENOTFOUND api.example.com',
      ]),
    ).toEqual([
      {
        permission: 'environment variable GITHUB_TOKEN',
        flag: '--allow-env GITHUB_TOKEN',
        manifest: 'capabilities.env: ["GITHUB_TOKEN"]',
      },
      {
        permission: 'read /srv/notes/todo.md',
        flag: '--allow-files /srv/notes/todo.md',
        manifest: 'capabilities.file_read: ["/srv/notes/todo.md"]',
      },
      {
        permission: 'write /var/cache/thing',
        flag: '--allow-files /var/cache/thing:rw',
        manifest: 'capabilities.file_write: ["/var/cache/thing"]',
      },
      {
        permission: 'network api.example.com',
        flag: '--allow-network api.example.com',
        manifest: 'capabilities.network.allowlist: ["api.example.com"]',
      },
    ]);
    expect(permissionHints(['Server listening'])).toEqual([]);
  });

  it('names --allow-files for the directory server-filesystem was given but cannot see', () => {
    // Its own words, seen through `oacp mcp run -- npx -y @modelcontextprotocol/server-filesystem DIR` without a grant.
    expect(
      permissionHints([
        'Warning: Cannot access directory /tmp/tmp.VeKpXxMfce, skipping',
        'Error: None of the specified directories are accessible',
      ]).map((hint) => hint.flag),
    ).toEqual(['--allow-files /tmp/tmp.VeKpXxMfce']);
  });

  it('says on stderr: tier, home, log, the last lines (escaped) and the grant it may need', async () => {
    const home = mkdtempSync(join(tmpdir(), 'oacp-fail-home-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/fail' });
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const lines: string[] = [];
    const running = runMcpCommand(
      {
        command: ['/bin/sh', '-c', 'printf "SLACK_TOKEN is not set\\033[31m\\n" >&2; exit 3'],
        tier: 'light',
        name: 'failing',
      },
      { home, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
    );
    const client = testClient();
    await expect(client.connect(new PipeClientTransport(fromBridge, toBridge))).rejects.toThrow();
    await client.close();
    await running;
    const stop = lines.find((line) => line.startsWith('oacp: failing: server exited with code 3'));
    expect(stop).toContain(`(tier light, home ${home}, log ${join(home, 'log')})`);
    expect(stop).toContain('its last lines: "SLACK_TOKEN is not set\\u001b[31m"');
    expect(stop).toContain('--allow-env SLACK_TOKEN (manifest: capabilities.env: ["SLACK_TOKEN"])');
    expect(stop).not.toContain('\u001b');
  }, 60_000);
});
