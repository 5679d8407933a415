import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { fromSdkTransport } from '../../src/mcp/transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, initialized, RAW_SERVER, rawHarness } from './raw-harness.js';

type Message = Record<string, unknown>;

/**
 * What docs/mcp-bridge.md promises of the client requests that are neither tools/call nor a
 * policed read: forwarded unjudged and unrecorded by a single server's bridge (a method MCP does
 * not define included), and on the `--config` front a method it does not know reaches no server.
 */
describe('client requests outside the policed ones', () => {
  it('a single bridge forwards logging/setLevel, resources/unsubscribe and a method of its own to the server, with no receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      await raw.request({ jsonrpc: '2.0', id: 2, method: 'logging/setLevel', params: { level: 'debug' } });
      await raw.request({
        jsonrpc: '2.0',
        id: 3,
        method: 'resources/unsubscribe',
        params: { uri: 'file:///x' },
      });
      const own = await raw.request({ jsonrpc: '2.0', id: 4, method: 'x-vendor/run', params: { cmd: 'id' } });
      expect(own.error).toMatchObject({ code: -32601, message: 'no method x-vendor/run' });
      const got = raw.serverGot().map((message) => message.method);
      expect(got).toEqual(
        expect.arrayContaining(['logging/setLevel', 'resources/unsubscribe', 'x-vendor/run']),
      );
      expect(raw.receipts.records).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('attack on the --config front: a method it does not know is answered "method not found" and reaches no server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-front-'));
    const serverLog = join(dir, 'server.jsonl');
    const receipts = await testReceipts();
    const bridge = createAggregateBridge(
      new Map([
        [
          'raw',
          createBridge({
            upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
            receipts,
          }),
        ],
      ]),
      { receipts },
    );
    const [clientSide, bridgeSide] = InMemoryTransport.createLinkedPair();
    const received: Message[] = [];
    clientSide.onmessage = (message) => received.push(message as Message);
    await clientSide.start();
    await bridge.serve(fromSdkTransport(bridgeSide));
    const answerTo = async (id: string) => {
      await eventually(() => received.some((m) => m.id === id), `the answer to ${id}`);
      return received.find((m) => m.id === id) as Message;
    };
    try {
      await clientSide.send(INITIALIZE as JSONRPCMessage);
      await answerTo('init');
      await clientSide.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      await clientSide.send({ jsonrpc: '2.0', id: 'own', method: 'x-vendor/run', params: { cmd: 'id' } });
      expect((await answerTo('own')).error).toMatchObject({ code: -32601 });
      await clientSide.send({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      await answerTo('ping');
      const got = existsSync(serverLog) ? readFileSync(serverLog, 'utf8') : '';
      expect(got).not.toContain('x-vendor/run');
      expect(receipts.records).toEqual([]);
    } finally {
      await bridge.close();
      await receipts.close();
    }
  });
});
