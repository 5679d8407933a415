import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_BACKLOG_BYTES } from '../../src/mcp/line-transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';
import { stdioClient } from './stdio-client.js';

/**
 * The `--config` front (several servers behind one stdio client) reaches each server's bridge
 * through an in-memory pair that never said it was backlogged: a server flooding
 * notifications/message while the client read nothing grew the front's stdout buffer without
 * bound. Each server is now held while the front's client is backlogged, as a single server is
 * (stdio-backlog.test.ts).
 */
describe('the --config front: servers sending faster than its stdio client reads', () => {
  it('attack: two servers flood 40 MB each to a client that reads nothing for a while: what waits stays bounded; once read, every message and both answers arrive', async () => {
    const receipts = await testReceipts();
    const inner = () => createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const bridge = createAggregateBridge(
      new Map([
        ['a', inner()],
        ['b', inner()],
      ]),
      { receipts },
    );
    const { lines, send, stopReading, readAgain, output } = await stdioClient(bridge);
    // Each write that waited added its own drain listener: thousands, and a warning on stderr.
    const warnings: string[] = [];
    const warned = (warning: Error) => warnings.push(warning.name);
    process.on('warning', warned);
    try {
      send(INITIALIZE);
      await eventually(() => lines.some((line) => line.id === 'init'), 'initialize');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      stopReading();
      for (const [id, server] of [
        [1, 'a'],
        [2, 'b'],
      ] as const) {
        send({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: `${server}__flood`, arguments: { count: 4000 } },
        });
      }
      let most = 0;
      const started = Date.now();
      while (Date.now() - started < 4000) {
        most = Math.max(most, output.writableLength);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Held at the bound, plus what one read of each server's pipe and one message can add.
      expect(most).toBeGreaterThan(1024 * 1024);
      expect(most).toBeLessThan(MAX_BACKLOG_BYTES + 4 * 1024 * 1024);
      // The client reads again: nothing was lost.
      readAgain();
      await eventually(
        () => [1, 2].every((id) => lines.some((line) => line.id === id)),
        'the answers',
        60_000,
      );
      const logged = lines.filter((line) => line.method === 'notifications/message');
      expect(logged).toHaveLength(8000);
      for (const server of ['a', 'b']) {
        const mine = logged.filter((line) => (line.params as { logger?: string }).logger === server);
        expect(mine.map((line) => String((line.params as { data: string }).data).split(':')[0])).toEqual(
          Array.from({ length: 4000 }, (_, i) => String(i)),
        );
      }
      expect(receipts.records.filter((record) => record.tool === 'flood')).toHaveLength(2);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', warned);
      await bridge.close();
      await receipts.close();
    }
  }, 90_000);
});
