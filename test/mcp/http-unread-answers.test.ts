import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const MIB = 1024 * 1024;
const LIMIT = 16 * MIB;
const ANSWER = 8 * MIB;
const CLIENTS = 8;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Resolves once `check` holds, polling; fails past `timeoutMs` (generous: a loaded host is slow). */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Issue 14 (nothing crashes a process): an answer is held until its client reads it. Clients that
 * each ask for a large answer and never read it held all of them; the bridge bounds what such
 * answers hold together and cuts the slowest client past it.
 */
describe('--http: answers held for clients that do not read them are bounded per listener', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;
  const cuts: number[] = [];

  beforeAll(async () => {
    receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER]),
      receipts,
      policy: new PolicyEngine(loadPolicies('@id("all") permit(principal, action, resource);')),
    });
    http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
      maxUnreadAnswerBytes: LIMIT,
      onUnreadCut: (bytes) => cuts.push(bytes),
    });
  });

  afterAll(async () => {
    await http?.close();
    await receipts?.close();
  });

  it(`attack: ${CLIENTS} sockets each call a tool answering ${ANSWER / MIB} MiB and never read: the bridge holds at most ${LIMIT / MIB} MiB of them, cuts the slowest and says so, and serves on`, async () => {
    const started = await fetch(http.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(INITIALIZE),
    });
    expect(started.status).toBe(200);
    const session = started.headers.get('mcp-session-id') ?? '';
    await started.text();
    const call = (id: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'large', arguments: { bytes: ANSWER } },
      });
    const closed = new Set<number>();
    const received = Array.from({ length: CLIENTS }, () => 0);
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const body = call(i + 10);
      const socket = connect(Number(http.url.port), http.url.hostname);
      socket.on('error', () => undefined);
      socket.on('close', () => closed.add(i));
      socket.on('data', (data: Buffer) => {
        received[i] = (received[i] ?? 0) + data.length;
      });
      socket.write(
        `POST ${http.url.pathname} HTTP/1.1\r\nHost: ${http.url.host}\r\ncontent-type: application/json\r\n` +
          `accept: application/json, text/event-stream\r\nmcp-session-id: ${session}\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // This client never reads what comes back.
      socket.pause();
      sockets.push(socket);
    }
    try {
      // Every answer either waits in the bridge or was cut: never more than the limit held at once.
      let most = 0;
      await until(() => {
        most = Math.max(most, http.heldAnswerBytes());
        return cuts.length > 0;
      }, 'an answer a client does not read cut');
      expect(most).toBeLessThanOrEqual(LIMIT);
      expect(http.heldAnswerBytes()).toBeLessThanOrEqual(LIMIT);
      expect(Math.min(...cuts)).toBeGreaterThan(0);
      // Read now, the cut clients find their connection closed before their answer's end.
      for (const socket of sockets) socket.resume();
      await until(() => closed.size >= cuts.length, 'the cut connections closed');
      for (const i of closed) expect(received[i], `client ${i}`).toBeLessThan(ANSWER);
      // The bridge serves on.
      const listed = await fetch(http.url, {
        method: 'POST',
        headers: { ...HEADERS, 'mcp-session-id': session },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(listed.status).toBe(200);
      expect(await listed.text()).toContain('"tools"');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 120_000);
});
