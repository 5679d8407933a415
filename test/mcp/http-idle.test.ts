import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, testClient, testReceipts } from './helpers.js';
import { alive, eventually, RAW_SERVER } from './raw-harness.js';

describe('idle --http sessions expire', () => {
  it('attack: abandoned sessions do not keep their servers: each ends after the idle timeout and stops its server', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-idle-')), 'pids');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts } }),
      receipts,
    });
    const http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
      idleTimeoutMs: 1000,
    });
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
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
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

describe('--http: a session id nobody holds is never a session', () => {
  it('attack: an expired, an unknown and a forged Mcp-Session-Id, even on an initialize, get 404 "Session not found" and start no server', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-fixation-')), 'pids');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts } }),
      receipts,
    });
    const http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
      idleTimeoutMs: 500,
    });
    const client = testClient();
    const transport = new StreamableHTTPClientTransport(http.url);
    const post = (sessionId: string, body: unknown) =>
      fetch(http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sessionId,
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify(body),
      });
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
    };
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const startedServers = () => readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
    try {
      await client.connect(transport);
      const expired = transport.sessionId ?? '';
      expect(expired).not.toBe('');
      expect(startedServers()).toBe(1);
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      await eventually(() => !alive(pid), 'the idle session to end', 15_000);
      for (const id of [expired, '00000000-0000-4000-8000-000000000000', 'fixed-by-attacker']) {
        for (const body of [list, initialize]) {
          const answer = await post(id, body);
          expect(answer.status, `${id} ${body.method}`).toBe(404);
          expect(await answer.json()).toMatchObject({
            error: { code: -32001, message: 'Session not found' },
          });
        }
        const del = await fetch(http.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
        expect(del.status, `DELETE ${id}`).toBe(404);
      }
      // The client's own choice of id is never adopted: a new session gets an id the bridge makes.
      const fresh = await fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(initialize),
      });
      expect(fresh.status).toBe(200);
      expect(fresh.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(fresh.headers.get('mcp-session-id')).not.toBe(expired);
      await fresh.body?.cancel();
      // Only that initialize started a server; none of the refused ids did.
      await eventually(() => startedServers() === 2, 'the fresh session to start its server');
      expect(startedServers()).toBe(2);
    } finally {
      await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });
});
