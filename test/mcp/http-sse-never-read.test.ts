import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const rssMiB = () => process.memoryUsage().rss / 1024 / 1024;

/** Opens `GET /sse` on a raw socket, reads up to the endpoint event, then never reads again. */
function openUnread(sseUrl: URL): Promise<{ socket: Socket; endpoint: URL }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(sseUrl.port), sseUrl.hostname);
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const path = /data: (\/messages\?sessionId=[^\r\n]+)/.exec(seen)?.[1];
      if (path === undefined) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ socket, endpoint: new URL(path, sseUrl) });
    };
    socket.on('data', onData).once('error', reject);
    socket.write(`GET /sse HTTP/1.1\r\nHost: ${sseUrl.host}\r\nAccept: text/event-stream\r\n\r\n`);
  });
}

const post = async (endpoint: URL, message: unknown) =>
  (
    await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
    })
  ).status;

/**
 * The legacy HTTP+SSE transport writes every event through the MCP SDK, which never looks at
 * what its client left unread: a client that opened `GET /sse`, started a call that logs 300 MB
 * and never read its stream grew the bridge by 250 MB. The Streamable HTTP streams are cut past
 * MAX_UNREAD_BYTES (test/mcp/http-streamable-unread.test.ts); this one now is too.
 */
describe('legacy HTTP+SSE: a client that never reads its stream', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await http?.close();
    await receipts?.close();
  });

  it('attack: a call logging 300 MB on a stream never read: the stream is cut, its session ends, memory stays bounded, the bridge serves the next client', async () => {
    const { socket, endpoint } = await openUnread(http.sseUrl);
    sockets.push(socket);
    expect(
      await post(endpoint, {
        ...INITIALIZE,
        params: { ...INITIALIZE.params, protocolVersion: '2024-11-05' },
      }),
    ).toBe(202);
    expect(await post(endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' })).toBe(202);
    const before = rssMiB();
    let peak = before;
    expect(
      await post(endpoint, {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'flood', arguments: { count: 30_000 } },
      }),
    ).toBe(202);
    // The session ends once its stream is cut: its endpoint is then unknown (404). Uncut, the
    // session lived on, holding in memory all the flood it could not deliver.
    let status = 202;
    for (let tries = 0; tries < 600 && status !== 404; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      peak = Math.max(peak, rssMiB());
      status = await post(endpoint, { jsonrpc: '2.0', id: `ping-${tries}`, method: 'ping' });
    }
    expect(status).toBe(404);
    // Bounded, not flat: the test process's RSS also holds what its own GC has not reclaimed yet,
    // which a loaded host delays (100.2 MiB was seen in a CI run); holding the flood is 300 MB.
    expect(peak - before).toBeLessThan(200);
    // The bridge serves on: a new client initializes over Streamable HTTP.
    const next = await fetch(http.url, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify(INITIALIZE),
    });
    expect(next.status).toBe(200);
  }, 120_000);
});
