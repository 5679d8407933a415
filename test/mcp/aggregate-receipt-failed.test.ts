import { describe, expect, it } from 'vitest';
import { frontHarness } from './front-harness.js';
import { eventually, INITIALIZE } from './raw-harness.js';

/**
 * The `--config` front and a server's own session answer a receipt the log would not take in
 * one way: the failure is reported (`onReceiptFailed`, printed by `oacp mcp run` as
 * "RECEIPT NOT WRITTEN") and the client gets an error saying so, never a denial with no receipt
 * behind it nor the log's own error. Before, the front's own refusals (a call naming no server, a
 * call sent as a notification, a line it could not read whole) failed silently.
 */
describe('the --config front: a receipt that cannot be written is reported, as a server session reports it', () => {
  it('attack: with the log closed under it, routed and unrouted calls are answered with errors and every failure is reported', async () => {
    const { receipts, serverEvents, frontFailed, send, write, answerTo, close } = await frontHarness({
      maxLineBytes: 64 * 1024,
    });
    try {
      send(INITIALIZE);
      await answerTo('init');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // The log goes away (a full disk, a failed append): no receipt can be written from now on.
      await receipts.close();

      // Through a server's session: the tool ran, its result is withheld, the failure reported.
      send({
        jsonrpc: '2.0',
        id: 'routed',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: {} },
      });
      const routed = await answerTo('routed');
      expect(routed.result).toBeUndefined();
      expect(routed.error?.message).toContain('receipt could not be written');
      expect(serverEvents.filter((e) => e.type === 'receipt-failed')).toHaveLength(1);

      // The front's own refusals: the same answer and the same report.
      send({
        jsonrpc: '2.0',
        id: 'unrouted',
        method: 'tools/call',
        params: { name: 'nosuch__x', arguments: {} },
      });
      send({
        jsonrpc: '2.0',
        id: 'screened',
        method: 'tools/call',
        params: { name: 'nosuch__x', arguments: [1] },
      });
      for (const id of ['unrouted', 'screened']) {
        const answer = await answerTo(id);
        expect(answer.result, id).toBeUndefined();
        expect(answer.error?.message, id).toMatch(/^call denied \(/);
        expect(answer.error?.message, id).toContain('its receipt could not be written');
      }
      send({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'nosuch__x', arguments: {} } });
      write(
        '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"raw__echo","arguments":{"n":1e400}}}\n',
      );
      const unread = await answerTo('inf');
      expect(unread.error?.message).toContain('a number too large for a double');
      expect(unread.error?.data).toBeUndefined();
      await eventually(() => frontFailed.length === 4, 'four reports from the front');
      expect(new Set(frontFailed.map((f) => f.callId)).size).toBe(4);
      expect(receipts.records).toHaveLength(0);
    } finally {
      await close();
    }
  }, 60_000);
});
