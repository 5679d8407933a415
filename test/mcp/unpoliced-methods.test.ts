import { describe, expect, it } from 'vitest';
import { frontHarness } from './front-harness.js';
import { INITIALIZE, initialized, rawHarness } from './raw-harness.js';

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
    const { receipts, send, answerTo, serverGot, close } = await frontHarness({ over: 'sdk' });
    try {
      send(INITIALIZE);
      await answerTo('init');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 'own', method: 'x-vendor/run', params: { cmd: 'id' } });
      expect((await answerTo('own')).error).toMatchObject({ code: -32601 });
      send({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      await answerTo('ping');
      // The front asked the server things of its own (initialize, lists), never the unknown method.
      expect(serverGot().length).toBeGreaterThan(0);
      expect(serverGot().map((m) => m.method)).not.toContain('x-vendor/run');
      expect(receipts.records).toEqual([]);
    } finally {
      await close();
    }
  });
});
