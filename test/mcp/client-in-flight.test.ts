import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_CLIENT_IN_FLIGHT } from '../../src/mcp/client-ids.js';
import { MAX_HELD_LINES } from '../../src/mcp/line-transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';
import { stdioClient } from './stdio-client.js';

/**
 * A burst of client requests is read faster than the server answers (each tools/call is checked
 * before it is sent, so none backlogs the server's stdin): the bridge read the whole burst and
 * held every request in flight, without bound. It now stops reading the client while
 * MAX_CLIENT_IN_FLIGHT requests wait, so the burst waits in the client's own pipe (once MAX_HELD_LINES
 * more are queued behind the hold, which is read on for the client's cancellations: held-client-control.test.ts).
 */
describe('a client that writes a burst of requests at once', () => {
  it('attack: 10 000 tools/call in one go (ten times the bound): the bridge reads no more than its bound ahead of the answers, and every call is answered and receipted', async () => {
    const receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const client = await stdioClient(bridge);
    try {
      client.send(INITIALIZE);
      await eventually(() => client.lines.some((line) => line.id === 'init'), 'initialize');
      client.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const total = 10_000;
      // Every line the same length, so what the bridge has read says how many requests it read.
      const line = (i: number) =>
        `${JSON.stringify({ jsonrpc: '2.0', id: `c${String(i).padStart(6, '0')}`, method: 'tools/call', params: { name: 'echo', arguments: { i: String(i).padStart(6, '0') } } })}\n`;
      const size = line(0).length;
      // In writes of 1000 lines, as a pipe delivers a burst: many lines to a chunk.
      for (let start = 0; start < total; start += 1000) {
        let text = '';
        for (let i = start; i < start + 1000; i++) text += line(i);
        client.write(text);
      }
      const written = total * size;
      const answered = () => client.lines.filter((got) => String(got.id).startsWith('c')).length;
      let most = 0;
      while (answered() < total) {
        const read = Math.floor((written - client.unread()) / size);
        most = Math.max(most, read - answered());
        if (most > 4 * MAX_CLIENT_IN_FLIGHT.requests) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Read ahead of the answers: the bound, the queue behind the hold, and the rest of the write it was reached in.
      expect(most).toBeGreaterThan(MAX_CLIENT_IN_FLIGHT.requests / 2);
      expect(most).toBeLessThanOrEqual(MAX_CLIENT_IN_FLIGHT.requests + MAX_HELD_LINES.lines + 1000);
      await eventually(() => answered() === total, 'every answer', 120_000);
      const byId = new Map(client.lines.map((got) => [got.id, got]));
      for (const i of [0, 1, 4242, total - 1]) {
        const id = `c${String(i).padStart(6, '0')}`;
        expect(JSON.stringify(byId.get(id))).toContain(`{\\"i\\":\\"${String(i).padStart(6, '0')}\\"}`);
      }
      await eventually(
        () => receipts.records.filter((record) => record.tool === 'echo').length === total,
        'every receipt',
        60_000,
      );
    } finally {
      await bridge.close();
      await receipts.close();
    }
  }, 240_000);
});
