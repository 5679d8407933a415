import { describe, expect, it } from 'vitest';
import { frontHarness } from './front-harness.js';
import { eventually, INITIALIZE } from './raw-harness.js';

/**
 * The duplicate-id attack (test/mcp/duplicate-ids.test.ts) on the `--config` front, whose MCP SDK
 * server keyed each request's cancellation by the client's id: a second request under an id in
 * flight took the first one's place, so cancelling the id no longer reached the first call. The
 * front now refuses the second, with a receipt, as a server's own session does.
 */
describe('the --config front: a request under an id already in flight', () => {
  it('attack: the second tools/call is refused with a receipt, never forwarded; cancelling the id cancels the first', async () => {
    const { receipts, received, send, serverCalls, close } = await frontHarness();
    try {
      send(INITIALIZE);
      await eventually(() => received.some((m) => m.id === 'init'), 'initialize answered');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 'dup', method: 'tools/call', params: { name: 'raw__hang', arguments: {} } });
      await eventually(() => serverCalls().length === 1, 'the first call at the server');
      send({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: { b: 2 } },
      });
      await eventually(() => received.some((m) => m.id === 'dup'), 'the second answered');
      const second = received.find((m) => m.id === 'dup');
      expect(JSON.stringify(second)).toContain('already used by a request in flight');
      expect(receipts.records.at(-1)).toMatchObject({
        outcome: 'denied',
        decision: { reason: expect.stringContaining('already used by a request in flight') },
      });
      expect(serverCalls()).toHaveLength(1);
      send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'dup' } });
      await eventually(
        () => receipts.records.some((r) => r.tool === 'hang' && r.outcome === 'cancelled'),
        'the first call recorded as cancelled',
      );
      // The receipt is written as the cancellation is sent; the server logs it once it has read it.
      await eventually(
        () => serverCalls().at(-1)?.method === 'notifications/cancelled',
        'the cancellation at the server',
      );
      expect(received.filter((m) => m.id === 'dup')).toHaveLength(1);
    } finally {
      await close();
    }
  }, 30_000);
});
