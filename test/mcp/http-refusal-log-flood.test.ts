import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_REFUSAL_LOG_LIMITS } from '../../src/mcp/client-refusal-log.js';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';

/**
 * Issue 10 (the operator's log as a disk-filling target): `oacp mcp run --http`
 * wrote one stderr line per invalid message a client sent ("invalid JSON-RPC from
 * the client ..."), unlimited, so any local process could fill the operator's log
 * with bad POSTs. The lines are now limited per session and overall
 * (src/mcp/client-refusal-log.ts, the one refusal limiter) and the rest counted in
 * one summary line per window, and at close. A real `@modelcontextprotocol/server-memory`
 * behind the real CLI; the official SDK client keeps calling tools meanwhile.
 */
const FLOOD = 1_000;
const LEGACY_FLOOD = 200;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Opens a raw Streamable HTTP session (initialize, then initialized) and returns its id. */
async function openSession(url: URL, auth: Readonly<Record<string, string>>): Promise<string> {
  const init = await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, ...auth },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'flood', version: '1' },
      },
    }),
  });
  await init.text();
  const id = init.headers.get('mcp-session-id');
  if (id === null) throw new Error(`no session: ${init.status}`);
  const initialized = await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, ...auth, 'mcp-session-id': id },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.text();
  return id;
}

describe('oacp mcp run --http: a flood of invalid messages does not flood the log', () => {
  let bridge: CliHttpBridge;
  let url: URL;
  beforeAll(async () => {
    bridge = await startCliHttpBridge('oacp-refusal-log-');
    url = bridge.url;
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('attack: 1,000 malformed POSTs from two sessions, and 200 to a legacy SSE session, leave a bounded log and a summary with the count; calls still work', async () => {
    const agent = new Client({ name: 'agent', version: '1.0.0' });
    await agent.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: bridge.headers } }));
    try {
      const sessions = [await openSession(url, bridge.headers), await openSession(url, bridge.headers)];
      const before = bridge.stderr().split('\n').length;
      let calls = 0;
      for (let i = 0; i < FLOOD; i++) {
        const session = sessions[i % sessions.length] as string;
        // JSON, but not a JSON-RPC message (no method, no result): refused, and once one line each.
        const refused = await fetch(url, {
          method: 'POST',
          headers: { ...HEADERS, ...bridge.headers, 'mcp-session-id': session },
          body: JSON.stringify({ jsonrpc: '2.0', id: i, flood: 'x'.repeat(200) }),
        });
        await refused.text();
        expect(refused.status).toBe(400);
        if (i % 100 === 0) {
          const result = await agent.callTool({ name: 'read_graph', arguments: {} });
          expect(result.isError).not.toBe(true);
          calls++;
        }
      }
      expect(calls).toBe(FLOOD / 100);
      // The legacy HTTP+SSE front's POST /messages: its session shares the same limits.
      const stream = await fetch(new URL('/sse', url), {
        headers: { ...bridge.headers, accept: 'text/event-stream' },
      });
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      let opened = '';
      while (!/sessionId=([\w-]+)/.test(opened))
        opened += new TextDecoder().decode((await reader.read()).value);
      const legacy = new URL(`/messages?sessionId=${/sessionId=([\w-]+)/.exec(opened)?.[1]}`, url);
      for (let i = 0; i < LEGACY_FLOOD; i++) {
        const refused = await fetch(legacy, {
          method: 'POST',
          headers: { ...bridge.headers, 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: i, flood: true }),
        });
        await refused.text();
        expect(refused.status).toBe(400);
      }
      await reader.cancel();
      const flooded = bridge
        .stderr()
        .split('\n')
        .slice(before - 1);
      const refusalLines = flooded.filter((line) => line.includes('invalid JSON-RPC from the client'));
      // At most the burst of the overall bucket (and of the two sessions' own), plus a little refill.
      expect(refusalLines.length).toBeGreaterThan(0);
      expect(refusalLines.length).toBeLessThanOrEqual(3 * CLIENT_REFUSAL_LOG_LIMITS.perSourcePerMinute + 3);
      expect(flooded.length).toBeLessThan(60);

      await bridge.stop();
      const stderr = bridge.stderr();
      // At close the window still open is summed up: every refusal is either a line or counted.
      const summary = /: (\d+) more refused client messages not logged .*\((\d+) sessions; most: /.exec(
        stderr,
      );
      expect(summary, stderr.slice(-2000)).not.toBeNull();
      expect(Number(summary?.[1]) + refusalLines.length).toBe(FLOOD + LEGACY_FLOOD);
      expect(Number(summary?.[2])).toBe(3);
    } finally {
      await agent.close().catch(() => undefined);
    }
  }, 180_000);
});
