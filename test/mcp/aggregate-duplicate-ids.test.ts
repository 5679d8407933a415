import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { LineTransport } from '../../src/mcp/line-transport.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';

type Message = { id?: unknown; method?: string; result?: unknown; error?: { message: string } };

/**
 * The duplicate-id attack (test/mcp/duplicate-ids.test.ts) on the `--config` front, whose MCP SDK
 * server keyed each request's cancellation by the client's id: a second request under an id in
 * flight took the first one's place, so cancelling the id no longer reached the first call. The
 * front now refuses the second, with a receipt, as a server's own session does.
 */
describe('the --config front: a request under an id already in flight', () => {
  it('attack: the second tools/call is refused with a receipt, never forwarded; cancelling the id cancels the first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-front-dup-'));
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
    const toFront = new PassThrough();
    const fromFront = new PassThrough();
    const received: Message[] = [];
    let pending = '';
    fromFront.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line !== '') received.push(JSON.parse(line) as Message);
    });
    await bridge.serve(new LineTransport(toFront, fromFront));
    const send = (message: unknown) => toFront.write(`${JSON.stringify(message)}\n`);
    const serverCalls = () =>
      readFileSync(serverLog, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Message)
        .filter((m) => m.method === 'tools/call' || m.method === 'notifications/cancelled');
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
      expect(serverCalls().at(-1)).toMatchObject({ method: 'notifications/cancelled' });
      expect(received.filter((m) => m.id === 'dup')).toHaveLength(1);
    } finally {
      await bridge.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
