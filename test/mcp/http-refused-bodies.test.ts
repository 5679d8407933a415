import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { type Bridge, createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/**
 * Issue 10 ("every path… refused with a receipt"): over stdio a message that is not JSON-RPC (an
 * `id: null`, a batch, which MCP forbids there) gets a receipt for each tools/call in it. Over
 * Streamable HTTP the same body was answered 400 and nothing recorded: a batch of calls with one
 * bad member, or a POST reusing an id in flight, left no trace of the calls it carried. Each call
 * of such a body is recorded as refused now, on a server's session and on the `--config` front.
 */
describe('--http: the tool calls of a POST body refused whole are recorded', () => {
  const start = async (front: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-http-refused-'));
    const serverLog = join(dir, 'server.jsonl');
    const receipts = await testReceipts();
    const single: Bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
      receipts,
    });
    const bridge = front ? createAggregateBridge(new Map([['raw', single]]), { receipts }) : single;
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const started = await fetch(http.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(INITIALIZE),
    });
    const session = started.headers.get('mcp-session-id') ?? '';
    await started.text();
    const post = (body: unknown) =>
      fetch(http.url, {
        method: 'POST',
        headers: { ...HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify(body),
      });
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    const serverCalls = () =>
      existsSync(serverLog)
        ? readFileSync(serverLog, 'utf8')
            .split('\n')
            .filter((line) => line.includes('"tools/call"'))
        : [];
    const close = async () => {
      await http.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { receipts, post, serverCalls, close };
  };

  const refusedEchoes = (receipts: TestReceipts, marker: string) =>
    receipts.records.filter(
      (r) => r.outcome === 'denied' && r.decision.reason.includes(marker) && r.tool.endsWith('echo'),
    );

  for (const front of [false, true]) {
    const where = front ? 'the --config front' : "a server's session";
    it(`attack (${where}): a batch of calls with one id: null is a 400, and each call in it has a receipt; none reaches the server`, async () => {
      const s = await start(front);
      const echo = front ? 'raw__echo' : 'echo';
      try {
        const answer = await s.post([
          { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: echo, arguments: { a: 1 } } },
          { jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: echo, arguments: { z: 1 } } },
          { jsonrpc: '2.0', method: 'tools/call', params: { name: echo, arguments: { n: 1 } } },
        ]);
        expect(answer.status).toBe(400);
        await answer.text();
        await eventually(
          () => refusedEchoes(s.receipts, 'id must be').length === 3,
          'three refusals recorded',
        );
        expect(s.serverCalls()).toEqual([]);
      } finally {
        await s.close();
      }
    }, 30_000);
  }

  it('attack: a POST whose call reuses an id in flight is a 400, and every call in it has a receipt', async () => {
    const s = await start(false);
    try {
      const held = s.post({
        jsonrpc: '2.0',
        id: 'dup',
        method: 'tools/call',
        params: { name: 'hang', arguments: {} },
      });
      await eventually(() => s.serverCalls().length === 1, 'the first call at the server');
      const answer = await s.post([
        { jsonrpc: '2.0', id: 'other', method: 'tools/call', params: { name: 'echo', arguments: { o: 1 } } },
        { jsonrpc: '2.0', id: 'dup', method: 'tools/call', params: { name: 'echo', arguments: { d: 1 } } },
      ]);
      expect(answer.status).toBe(400);
      expect(await answer.text()).toContain('already used by a request in flight');
      await eventually(
        () => refusedEchoes(s.receipts, 'already used by a request in flight').length === 2,
        'both calls of the POST recorded',
      );
      expect(s.serverCalls()).toHaveLength(1);
      void held.catch(() => undefined);
    } finally {
      await s.close();
    }
  }, 30_000);
});
