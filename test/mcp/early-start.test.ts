import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/identity/keystore.js';
import { prestartUpstream } from '../../src/mcp/prestarted-upstream.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import type { UpstreamConnector, UpstreamLink } from '../../src/mcp/upstream.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { PipeClientTransport, testClient } from './helpers.js';

const NOISY = join(import.meta.dirname, 'fixtures', 'boot-noisy-server.mjs');

async function home(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-early-'));
  await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/early' });
  return dir;
}

/** Host processes whose command line holds `token`. */
function processesWith(token: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(token) && !line.includes('ps -eo'));
}

describe('oacp mcp run starts the server while the bridge sets up', () => {
  it('a bridge that fails after the early start (an unreadable --policy) leaves no server running', async () => {
    const dir = await home();
    const token = `early-${process.pid}-${Date.now()}`;
    // The server never exits by itself: only the bridge stopping it ends it.
    await expect(
      runMcpCommand(
        {
          command: [process.execPath, NOISY, token],
          tier: 'light',
          name: 'noisy',
          policy: '/nonexistent.cedar',
        },
        { home: dir, env: {}, log: () => undefined },
      ),
    ).rejects.toMatchObject({ code: 'POLICY_READ' });
    expect(processesWith(token)).toEqual([]);
  });

  it('what the server says at boot follows the bridge line, and its first answers reach the client', async () => {
    const dir = await home();
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    const lines: string[] = [];
    const running = runMcpCommand(
      { command: [process.execPath, NOISY, 'hello'], tier: 'light', name: 'noisy' },
      { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: (line) => lines.push(line) },
    );
    const client = testClient();
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name)).toContain('echo');
    await client.close();
    await running;
    const title = lines.findIndex((line) => line.startsWith('oacp: MCP bridge for noisy'));
    const booted = lines.indexOf('[noisy] booted hello');
    expect(title).toBeGreaterThanOrEqual(0);
    expect(booted).toBeGreaterThan(title);
  });

  it('the first connect claims the early link, later ones (restarts) start anew, and only an unclaimed link is stopped', async () => {
    const stopped: number[] = [];
    let made = 0;
    const connector: UpstreamConnector = {
      identity: { name: 'fake' } as UpstreamConnector['identity'],
      connect: async () => {
        const id = ++made;
        return { stop: async () => void stopped.push(id) } as unknown as UpstreamLink;
      },
    };
    // The early start happens at once, before any session asks.
    const claimed = prestartUpstream(connector);
    expect(made).toBe(1);
    const first = await claimed.connector.connect();
    expect(made).toBe(1);
    await claimed.connector.connect();
    expect(made).toBe(2);
    await claimed.discard();
    expect(stopped).toEqual([]);
    await first.stop();
    expect(stopped).toEqual([1]);
    // Never claimed (the bridge failed to set up): discard stops it, once.
    const unclaimed = prestartUpstream(connector);
    await unclaimed.discard();
    await unclaimed.discard();
    expect(stopped).toEqual([1, 3]);
    // A start that failed is the first connect's error, as without the early start.
    const failing = prestartUpstream({
      ...connector,
      connect: () => Promise.reject(new Error('bwrap said no')),
    });
    await expect(failing.connector.connect()).rejects.toThrow('bwrap said no');
  });
});
