import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { type Bridge, createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, SERVERS, type TestReceipts, testClient, testReceipts } from './helpers.js';

/**
 * Two clients of one `--http` bridge are two sessions that share nothing a client names. Under
 * the same progressToken (the SDK makes a request's
 * id its token, so two clients doing the same thing always collide): each session has its own
 * server and its own map of tokens, so each client gets its own progress only. Checked on the
 * single-server bridge and on the `--config` front.
 */
describe('two --http sessions naming the same tokens and ids', () => {
  for (const front of [false, true]) {
    const tool = front ? 'e__trigger-long-running-operation' : 'trigger-long-running-operation';
    it(`attack${front ? ' on the --config front' : ''}: two SDK clients' calls in flight together: each sees exactly its own steps`, async () => {
      await twoSessions(front, async ([first, second]) => {
        const seen: Progress[][] = [[], []];
        const call = (client: Client, index: 0 | 1, steps: number) =>
          client.request(
            { method: 'tools/call', params: { name: tool, arguments: { duration: steps * 0.3, steps } } },
            CallToolResultSchema,
            { onprogress: (progress) => seen[index]?.push(progress) },
          );
        const results = await Promise.all([call(first, 0, 5), call(second, 1, 3)]);
        expect(results.map((result) => result.isError ?? false)).toEqual([false, false]);
        expect(seen[0]?.map((progress) => progress.total)).toEqual([5, 5, 5, 5, 5]);
        expect(seen[1]?.map((progress) => progress.total)).toEqual([3, 3, 3]);
      });
    }, 60_000);

    it(`attack${front ? ' on the --config front' : ''}: notifications/cancelled naming another session's request id in flight cancels nothing there`, async () => {
      await twoSessions(front, async ([first, second], receipts) => {
        const call = first.callTool({ name: tool, arguments: { duration: 1, steps: 2 } });
        await new Promise((resolve) => setTimeout(resolve, 300));
        // The same sequence of requests gives both clients the same ids: try every id the first may be using.
        for (let requestId = 0; requestId < 4; requestId++)
          await second.notification({
            method: 'notifications/cancelled',
            params: { requestId, reason: 'not yours' },
          });
        const result = await call;
        expect(result.isError ?? false).toBe(false);
        expect(JSON.stringify(result.content)).toMatch(/completed/i);
        expect(receipts.records.map((record) => record.outcome)).toEqual(['result']);
      });
    }, 60_000);
  }
});

/** Two SDK clients, each its own session of one `--http` bridge to the everything server (behind the front when `front`). */
async function twoSessions(
  front: boolean,
  run: (clients: readonly [Client, Client], receipts: TestReceipts) => Promise<void>,
): Promise<void> {
  const receipts = await testReceipts();
  const single = createBridge({
    upstream: lightUpstream('everything', [SERVERS.everything, 'stdio']),
    receipts,
  });
  const bridge: Bridge = front ? createAggregateBridge(new Map([['e', single]]), { receipts }) : single;
  const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
  const clients = [testClient(), testClient()] as const;
  try {
    for (const client of clients) await client.connect(new StreamableHTTPClientTransport(http.url));
    await run(clients, receipts);
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await http.close();
    await receipts.close();
  }
}
