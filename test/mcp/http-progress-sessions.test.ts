import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { type Bridge, createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, SERVERS, testClient, testReceipts } from './helpers.js';

/**
 * Two clients of one `--http` bridge under the same progressToken (the SDK makes a request's
 * id its token, so two clients doing the same thing always collide): each session has its own
 * server and its own map of tokens, so each client gets its own progress only. Checked on the
 * single-server bridge and on the `--config` front.
 */
describe('two --http sessions using the same progressToken', () => {
  for (const front of [false, true]) {
    it(`attack${front ? ' on the --config front' : ''}: two SDK clients' calls in flight together: each sees exactly its own steps`, async () => {
      const receipts = await testReceipts();
      const single = createBridge({
        upstream: lightUpstream('everything', [SERVERS.everything, 'stdio']),
        receipts,
      });
      const bridge: Bridge = front ? createAggregateBridge(new Map([['e', single]]), { receipts }) : single;
      const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0 });
      const clients = [testClient(), testClient()];
      try {
        for (const client of clients) await client.connect(new StreamableHTTPClientTransport(http.url));
        const seen: Progress[][] = [[], []];
        const call = (index: 0 | 1, steps: number) =>
          clients[index]?.request(
            {
              method: 'tools/call',
              params: {
                name: front ? 'e__trigger-long-running-operation' : 'trigger-long-running-operation',
                arguments: { duration: steps * 0.3, steps },
              },
            },
            CallToolResultSchema,
            { onprogress: (progress) => seen[index]?.push(progress) },
          );
        const results = await Promise.all([call(0, 5), call(1, 3)]);
        expect(results.map((result) => result?.isError ?? false)).toEqual([false, false]);
        expect(seen[0]?.map((progress) => progress.total)).toEqual([5, 5, 5, 5, 5]);
        expect(seen[1]?.map((progress) => progress.total)).toEqual([3, 3, 3]);
      } finally {
        await Promise.allSettled(clients.map((client) => client.close()));
        await http.close();
        await receipts.close();
      }
    }, 60_000);
  }
});
