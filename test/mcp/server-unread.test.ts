import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BACKLOG_BYTES } from '../../src/mcp/line-transport.js';
import { eventually, rawHarness } from './raw-harness.js';

/**
 * The other direction of stdio-backlog.test.ts: a server that stops reading its stdin while the
 * client keeps writing. The bridge read the client on and buffered everything for the server's
 * full pipe, without bound; it now stops reading the client until the server drains, so what
 * waits stays with the client (in its own pipe) rather than growing in OACP.
 */
describe('a server that stops reading its stdin', () => {
  it('attack: the client writes 200 MB of notifications to it: the bridge stops reading the client, and its buffer for the server stays bounded', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-unread-')), 'starts');
    const raw = await rawHarness({ env: { RAW_STOP_READING: '1', RAW_STARTS: starts } });
    try {
      await raw.request({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      });
      raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const pad = 'p'.repeat(1024 * 1024);
      for (let i = 0; i < 200; i++) raw.send({ jsonrpc: '2.0', method: 'x-vendor/note', params: { i, pad } });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // What the client wrote waits in its own stream, unread by the bridge.
      const held = raw.clientUnread();
      expect(held).toBeGreaterThan(200 * 1024 * 1024 - MAX_BACKLOG_BYTES - 8 * 1024 * 1024);
      // The server is killed: the client is no longer held for it (its successor is sent what follows).
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGKILL');
      await eventually(() => raw.clientUnread() < held - MAX_BACKLOG_BYTES, 'the client read again', 20_000);
    } finally {
      await raw.close();
    }
  }, 60_000);
});
