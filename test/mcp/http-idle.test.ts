import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, testClient, testReceipts } from './helpers.js';
import { eventually, RAW_SERVER } from './raw-harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('idle --http sessions expire', () => {
  it('attack: abandoned sessions do not keep their servers: each ends after the idle timeout and stops its server', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-idle-')), 'pids');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts } }),
      receipts,
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, idleTimeoutMs: 1000 });
    const clients = [testClient(), testClient(), testClient()];
    try {
      for (const client of clients) await client.connect(new StreamableHTTPClientTransport(http.url));
      const pids = readFileSync(starts, 'utf8').split('\n').filter(Boolean).map(Number);
      expect(pids).toHaveLength(3);
      expect(pids.every(alive)).toBe(true);
      // The clients go away without a word (no DELETE): the bridge must still let the servers go.
      await eventually(() => !pids.some(alive), 'every abandoned server to stop', 15_000);
      await expect(clients[0]?.listTools()).rejects.toThrow();
    } finally {
      for (const client of clients) await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });
});
