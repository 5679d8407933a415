import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { scratchDir } from '../scratch-dirs.js';
import { lightUpstream, testClient, testReceipts } from './helpers.js';
import { alive, eventually, initialized, RAW_SERVER, rawHarness } from './raw-harness.js';

describe('a client that goes away mid-call', () => {
  it('attack (stdio): stdin closes while a call runs: the call still gets its receipt and the server process ends', async () => {
    const starts = join(scratchDir('oacp-gone-'), 'pids');
    const raw = await rawHarness({ env: { RAW_STARTS: starts } });
    try {
      await initialized(raw);
      raw.send({
        jsonrpc: '2.0',
        id: 'mid',
        method: 'tools/call',
        params: { name: 'hang', arguments: { n: 1 } },
      });
      await eventually(
        () => raw.serverGot().some((m) => m.method === 'tools/call'),
        'the call to reach the server',
      );
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      expect(alive(pid)).toBe(true);
      raw.endInput();
      await raw.closed;
      await eventually(() => raw.receipts.records.some((r) => r.tool === 'hang'), 'the call receipt');
      const records = raw.receipts.records.filter((r) => r.tool === 'hang');
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ outcome: 'server-gone', forwarded: true });
      await eventually(() => !alive(pid), 'the server to stop');
    } finally {
      await raw.close();
    }
  });

  it('attack (--http): the POST of a running call is dropped and the client never comes back: the call gets its receipt when the idle session ends, and its server stops', async () => {
    const dir = scratchDir('oacp-gone-http-');
    const starts = join(dir, 'pids');
    const serverLog = join(dir, 'server.jsonl');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts, RAW_LOG: serverLog } }),
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
    try {
      await client.connect(transport);
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      const post = request(http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': transport.sessionId ?? '',
          'mcp-protocol-version': '2025-06-18',
        },
      });
      post.on('error', () => undefined);
      post.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'hang', arguments: {} },
        }),
      );
      await eventually(
        () => readFileSync(serverLog, 'utf8').includes('"hang"'),
        'the call to reach the server',
      );
      // The client drops the connection mid-call and is never heard from again.
      post.destroy();
      await eventually(() => receipts.records.some((r) => r.tool === 'hang'), 'the call receipt', 15_000);
      expect(receipts.records.filter((r) => r.tool === 'hang')).toEqual([
        expect.objectContaining({ outcome: 'server-gone', forwarded: true }),
      ]);
      await eventually(() => !alive(pid), 'the server to stop', 15_000);
    } finally {
      await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });

  it('attack (--http): the POST of a call is dropped and the server answers after: the receipt says the answer was not delivered, never that the client received it', async () => {
    const dir = scratchDir('oacp-undelivered-');
    const hold = join(dir, 'hold');
    const serverLog = join(dir, 'server.jsonl');
    writeFileSync(hold, '');
    const receipts = await testReceipts();
    const events: BridgeEvent[] = [];
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_HOLD_CALL: hold, RAW_LOG: serverLog } }),
      receipts,
      onEvent: (event) => events.push(event),
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const client = testClient();
    const transport = new StreamableHTTPClientTransport(http.url);
    try {
      await client.connect(transport);
      const post = request(http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': transport.sessionId ?? '',
          'mcp-protocol-version': '2025-06-18',
        },
      });
      post.on('error', () => undefined);
      post.end(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'held' } }));
      await eventually(
        () => readFileSync(serverLog, 'utf8').includes('"held"'),
        'the call to reach the server',
      );
      post.destroy();
      // The session goes on (a dropped POST is no cancel); its next answer comes after the drop was seen.
      await client.ping();
      rmSync(hold);
      await eventually(() => receipts.records.some((r) => r.tool === 'held'), 'the call receipt');
      const [dropped] = receipts.records.filter((r) => r.tool === 'held');
      expect(dropped).toMatchObject({ outcome: 'result', delivered: false });
      // Said once: no error answer is tried in its place, to a request that is gone.
      await eventually(() => events.some((e) => e.type === 'send-failed'), 'the failed send to be said');
      await client.ping();
      expect(events.filter((e) => e.type === 'send-failed')).toHaveLength(1);
      // A client that stays gets its answer, and its receipt claims nothing more.
      const kept = await client.callTool({ name: 'echo', arguments: { a: 1 } });
      expect(kept.isError).not.toBe(true);
      const echoed = receipts.records.filter((r) => r.tool === 'echo');
      expect(echoed).toHaveLength(1);
      expect(echoed[0]?.outcome).toBe('result');
      expect(echoed[0]).not.toHaveProperty('delivered');
    } finally {
      await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });

  it('attack (--http): the POST of a task call is dropped and the server then answers with a task the bridge refuses to keep: its refusal receipt says nobody received it', async () => {
    const dir = scratchDir('oacp-undelivered-task-');
    const hold = join(dir, 'hold');
    const serverLog = join(dir, 'server.jsonl');
    writeFileSync(hold, '');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_HOLD_CALL: hold, RAW_LOG: serverLog } }),
      receipts,
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const client = testClient();
    const transport = new StreamableHTTPClientTransport(http.url);
    try {
      await client.connect(transport);
      const headers = {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId ?? '',
        'mcp-protocol-version': '2025-06-18',
      };
      const taskCall = (id: number, held: boolean) =>
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'task', arguments: { held }, task: { ttl: 60000 } },
        });
      // The first task call keeps task-1 live; the raw server hands task-1 out again to the next.
      const first = await fetch(http.url, { method: 'POST', headers, body: taskCall(1, false) });
      expect(await first.text()).toContain('task-1');
      const post = request(http.url, { method: 'POST', headers });
      post.on('error', () => undefined);
      post.end(taskCall(2, true));
      await eventually(
        () => readFileSync(serverLog, 'utf8').includes('"held":true'),
        'the second call to reach the server',
      );
      post.destroy();
      await client.ping();
      rmSync(hold);
      await eventually(
        () => receipts.records.filter((r) => r.tool === 'task').length === 2,
        'the refusal receipt',
      );
      const [kept, refused] = receipts.records.filter((r) => r.tool === 'task');
      expect(kept).not.toHaveProperty('delivered');
      expect(refused).toMatchObject({ outcome: 'error', forwarded: true, delivered: false });
      expect(refused?.error?.message).toContain('another call');
    } finally {
      await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });

  it('attack (legacy SSE): the SSE stream every answer goes on is dropped mid-call: the session ends as at stdio EOF, and the call is recorded as never answered, never as a result the client received', async () => {
    const dir = scratchDir('oacp-gone-sse-');
    const hold = join(dir, 'hold');
    const serverLog = join(dir, 'server.jsonl');
    const starts = join(dir, 'pids');
    writeFileSync(hold, '');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], {
        env: { RAW_HOLD_CALL: hold, RAW_LOG: serverLog, RAW_STARTS: starts },
      }),
      receipts,
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const client = testClient();
    try {
      await client.connect(new SSEClientTransport(http.sseUrl));
      const call = client.callTool({ name: 'held', arguments: {} }).catch(() => undefined);
      await eventually(
        () => readFileSync(serverLog, 'utf8').includes('"held"'),
        'the call to reach the server',
      );
      const pid = Number(readFileSync(starts, 'utf8').split('\n')[0]);
      await client.close();
      await call;
      await eventually(() => !alive(pid), 'the session to end and stop its server');
      rmSync(hold);
      await eventually(() => receipts.records.some((r) => r.tool === 'held'), 'the call receipt');
      const records = receipts.records.filter((r) => r.tool === 'held');
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ outcome: 'server-gone', forwarded: true });
      expect(records[0]).not.toHaveProperty('resultDigest');
    } finally {
      await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });
});
