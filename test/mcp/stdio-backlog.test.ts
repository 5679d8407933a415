import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_BACKLOG_BYTES } from '../../src/mcp/line-transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';
import { stdioClient } from './stdio-client.js';

/**
 * Over stdio the bridge's output is a pipe the client reads when it likes. A server flooding
 * notifications/message while the client reads slowly grew the bridge's write buffer without
 * bound (200 MB in seconds): the bridge now stops reading the server until the client drains.
 */
describe('a server sending faster than its stdio client reads', () => {
  it('attack: 60 MB of log messages to a client that reads nothing for a while: what waits in the bridge stays bounded; once read, every message and the answer arrive, in order', async () => {
    const receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const { lines, send, stopReading, readAgain, output } = await stdioClient(bridge);
    try {
      send(INITIALIZE);
      await eventually(() => lines.some((line) => line.id === 'init'), 'initialize');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      stopReading();
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'flood', arguments: { count: 6000 } },
      });
      let most = 0;
      const watch = async (until: () => boolean) => {
        while (!until()) {
          most = Math.max(most, output.writableLength);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      // Until the flood has filled the output past 1 MiB (a loaded CI machine took more than 3 s),
      // then 2 s more: without the hold it keeps growing, far past the bound, in that time.
      const deadline = Date.now() + 30_000;
      await watch(() => most > 1024 * 1024 || Date.now() > deadline);
      const watchUntil = Date.now() + 2000;
      await watch(() => Date.now() > watchUntil);
      // Held at the bound, plus what one read of the server's pipe and one message can add.
      expect(most).toBeGreaterThan(1024 * 1024);
      expect(most).toBeLessThan(MAX_BACKLOG_BYTES + 2 * 1024 * 1024);
      // The client reads again: nothing was lost.
      readAgain();
      await eventually(() => lines.some((line) => line.id === 1), 'the answer', 30_000);
      const logged = lines.filter((line) => line.method === 'notifications/message');
      expect(logged).toHaveLength(6000);
      expect(logged.map((line) => String((line.params as { data: string }).data).split(':')[0])).toEqual(
        Array.from({ length: 6000 }, (_, i) => String(i)),
      );
      expect(JSON.stringify(lines.at(-1))).toContain('flooded');
      expect(receipts.records.filter((record) => record.tool === 'flood')).toHaveLength(1);
    } finally {
      await bridge.close();
      await receipts.close();
    }
  }, 60_000);
});
