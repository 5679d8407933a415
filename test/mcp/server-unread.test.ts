import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_BACKLOG_BYTES } from '../../src/mcp/line-transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER, rawHarness } from './raw-harness.js';
import { stdioClient } from './stdio-client.js';

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

  it('attack on the --config front: 200 MB of calls to a server that stopped reading (beside one that reads): the front stops reading its client', async () => {
    const receipts = await testReceipts();
    const bridge = createAggregateBridge(
      new Map([
        [
          'stuck',
          createBridge({
            upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STOP_READING: '1' } }),
            receipts,
          }),
        ],
        ['fine', createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts })],
      ]),
      { receipts },
    );
    const { lines, send, unread } = await stdioClient(bridge);
    try {
      send(INITIALIZE);
      await eventually(() => lines.some((line) => line.id === 'init'), 'initialize');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const pad = 'p'.repeat(5 * 1024 * 1024);
      // Paced as a pipe paces a real client: each call is read (and checked) before the next arrives.
      for (let id = 1; id <= 40; id++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        send({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'stuck__echo', arguments: { pad } },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(unread()).toBeGreaterThan(200 * 1024 * 1024 - 3 * MAX_BACKLOG_BYTES);
    } finally {
      await bridge.close();
      await receipts.close();
    }
  }, 60_000);
});
