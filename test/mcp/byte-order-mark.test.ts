import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, initialized, RAW_SERVER, rawHarness } from './raw-harness.js';

const BOM = '\uFEFF';
const CALL = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'behind-a-bom' } },
};

/**
 * RFC 8259 §8.1: a JSON text MUST NOT begin with a byte-order mark, but a parser MAY ignore one.
 * A tools/call behind one is still a call the client made: it was answered -32700 with no
 * receipt, and nothing recorded it. The bridge ignores the mark: the call is checked, forwarded
 * and recorded as any other (docs/mcp-bridge.md, Robustness).
 */
describe('a client message starting with a UTF-8 byte-order mark', () => {
  it('attack: over stdio, a tools/call behind a BOM goes through the pipeline and gets its receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send(`${BOM}${JSON.stringify(CALL)}`);
      await eventually(() => raw.received.some((message) => message.id === 7), 'the call to be answered');
      const answer = raw.received.find((message) => message.id === 7) as {
        result?: { content: unknown; _meta: Record<string, unknown> };
        error?: unknown;
      };
      expect(answer.error).toBeUndefined();
      expect(JSON.stringify(answer.result?.content)).toContain('behind-a-bom');
      expect(answer.result?._meta['oacp/receipt']).toBeDefined();
      expect(raw.receipts.records.filter((record) => record.tool === 'echo')).toHaveLength(1);
      // What reached the server is the message, without the mark.
      const sent = raw.serverGot().filter((message) => message.method === 'tools/call');
      expect(sent).toHaveLength(1);
    } finally {
      await raw.close();
    }
  });

  it('attack: over Streamable HTTP, a POST body behind a BOM is read the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-bom-'));
    const serverLog = join(dir, 'server.jsonl');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
      receipts,
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const started = await fetch(http.url, { method: 'POST', headers, body: JSON.stringify(INITIALIZE) });
      const session = started.headers.get('mcp-session-id') ?? '';
      await started.text();
      const post = (body: string) =>
        fetch(http.url, {
          method: 'POST',
          headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
          body,
        });
      await (await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))).text();
      const response = await post(`${BOM}${JSON.stringify(CALL)}`);
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(text).toContain('behind-a-bom');
      expect(text).toContain('oacp/receipt');
      await eventually(() => receipts.records.some((record) => record.tool === 'echo'), 'the call’s receipt');
      expect(existsSync(serverLog) && readFileSync(serverLog, 'utf8').includes('behind-a-bom')).toBe(true);
    } finally {
      await http.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
