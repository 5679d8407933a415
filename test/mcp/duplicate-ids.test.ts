import { describe, expect, it } from 'vitest';
import { eventually, initialized, rawHarness } from './raw-harness.js';

const toolCalls = (messages: Record<string, unknown>[]) => messages.filter((m) => m.method === 'tools/call');

/**
 * Issue 10 (no call without a true receipt, nothing attributed to the wrong call): a client that
 * sends a second request under an id still in flight. Over stdio both were forwarded: the bridge's
 * map from the client's id to the server's was overwritten, so after the second was answered the
 * first could no longer be cancelled (its receipt waited for the deadline or the session's end),
 * and its late answer went to the client under an id it had already been answered on. The
 * Streamable HTTP transport refused such a POST already; stdio now refuses the second request,
 * with a receipt, and never forwards it.
 */
describe('a request under an id already in flight', () => {
  it('attack: a second tools/call under an in-flight id is refused with a receipt and never forwarded; cancelling the id cancels the first', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'hang', arguments: { a: 1 } },
      });
      await eventually(() => toolCalls(raw.serverGot()).length === 1, 'the first call at the server');
      const second = await raw.request({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'echo', arguments: { b: 2 } },
      });
      expect(second.result).toMatchObject({ isError: true });
      expect(JSON.stringify(second.result)).toContain('already used by a request in flight');
      expect(raw.receipts.records.at(-1)).toMatchObject({
        tool: 'echo',
        outcome: 'denied',
        decision: { reason: expect.stringContaining('already used by a request in flight') },
      });
      // Another method under the same id: refused and recorded too.
      const ping = await raw.request({ jsonrpc: '2.0', id: 'dup', method: 'ping' });
      expect(JSON.stringify(ping.error)).toContain('already used by a request in flight');
      expect(raw.receipts.records.at(-1)).toMatchObject({ tool: 'client-request:ping', outcome: 'denied' });
      expect(toolCalls(raw.serverGot())).toHaveLength(1);

      // The id still names the first call: cancelling it reaches the server and the receipt says so.
      raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'dup' } });
      await eventually(
        () => raw.receipts.records.some((r) => r.tool === 'hang' && r.outcome === 'cancelled'),
        'the first call recorded as cancelled',
      );
      expect(raw.serverGot().at(-1)).toMatchObject({ method: 'notifications/cancelled' });
      expect(raw.receipts.records.filter((r) => r.tool === 'hang')).toHaveLength(1);

      // Once answered or cancelled, the id may be used again (as clients that count per session do).
      const again = await raw.request({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'echo', arguments: { c: 3 } },
      });
      expect(JSON.stringify(again.result)).toContain('"c\\":3');
      const after = await raw.request({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'echo', arguments: { d: 4 } },
      });
      expect(JSON.stringify(after.result)).toContain('"d\\":4');
      expect(toolCalls(raw.serverGot())).toHaveLength(3);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it("attack: a refused duplicate (or an invalid message) under an in-flight id frees neither that id nor the first call's progress token", async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send({
        jsonrpc: '2.0',
        id: 'first',
        method: 'tools/call',
        params: { name: 'hang', arguments: {}, _meta: { progressToken: 'tok' } },
      });
      await eventually(() => toolCalls(raw.serverGot()).length === 1, 'the first call at the server');
      // A duplicate id is answered (refused): that answer must not end the first call's claims.
      const duplicate = await raw.request({
        jsonrpc: '2.0',
        id: 'first',
        method: 'tools/call',
        params: { name: 'echo', arguments: { b: 2 } },
      });
      expect(JSON.stringify(duplicate.result)).toContain('already used by a request in flight');
      // So is an invalid message carrying the same id.
      const invalid = await raw.request({ jsonrpc: '1.0', id: 'first', method: 'ping' });
      expect(invalid.error).toBeDefined();
      // The first call still holds its progress token...
      const twin = await raw.request({
        jsonrpc: '2.0',
        id: 'second',
        method: 'tools/call',
        params: { name: 'echo', arguments: { c: 3 }, _meta: { progressToken: 'tok' } },
      });
      expect(JSON.stringify(twin.result)).toContain('progressToken');
      expect(JSON.stringify(twin.result)).toContain('already used by a request in flight');
      // ...and its id.
      const again = await raw.request({
        jsonrpc: '2.0',
        id: 'first',
        method: 'tools/call',
        params: { name: 'echo', arguments: { d: 4 } },
      });
      expect(JSON.stringify(again.result)).toContain('already used by a request in flight');
      expect(toolCalls(raw.serverGot())).toHaveLength(1);
    } finally {
      await raw.close();
    }
  }, 30_000);

  it('1 and "1" are different ids: both are forwarded', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } });
      const text = await raw.request({
        jsonrpc: '2.0',
        id: '1',
        method: 'tools/call',
        params: { name: 'echo', arguments: { s: 1 } },
      });
      expect(text.result).not.toMatchObject({ isError: true });
      expect(toolCalls(raw.serverGot())).toHaveLength(2);
    } finally {
      await raw.close();
    }
  }, 30_000);
});
