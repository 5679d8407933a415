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

describe('--http: one bad POST ends nothing', () => {
  it('attack: a POST with a 10,000-deep array in its params gets an error answer; every session keeps serving', async () => {
    const receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0 });
    const victim = testClient();
    const attacker = testClient();
    const attackerTransport = new StreamableHTTPClientTransport(http.url);
    try {
      await victim.connect(new StreamableHTTPClientTransport(http.url));
      await attacker.connect(attackerTransport);
      const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
      const answer = await fetch(http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': attackerTransport.sessionId ?? '',
          'mcp-protocol-version': '2025-06-18',
        },
        body: `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"echo","arguments":{"x":${deep}}}}`,
      });
      const body = await answer.text();
      expect(body).toContain('deeper than 128 levels');
      const result = await victim.callTool({ name: 'echo', arguments: { still: 'here' } });
      expect(JSON.stringify(result.content)).toContain('here');
      const again = await attacker.callTool({ name: 'echo', arguments: { me: 'too' } });
      expect(JSON.stringify(again.content)).toContain('too');
    } finally {
      await victim.close();
      await attacker.close();
      await http.close();
      await receipts.close();
    }
  });
});
