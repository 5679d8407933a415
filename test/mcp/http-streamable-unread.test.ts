import { createServer } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MAX_UNREAD_BYTES, StreamableSession } from '../../src/mcp/http-streamable.js';

describe('--http: a client that never reads its SSE stream', () => {
  it('attack: the server keeps sending on a call whose client reads nothing: the stream is cut past the unread bound, not buffered without end', async () => {
    const session = new StreamableSession('s');
    const posted = new Promise<void>((resolve) => {
      session.onmessage = () => resolve();
    });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        session.post(req, res, [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }]),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}`);
    // The client never reads what comes back.
    socket.pause();
    try {
      await posted;
      const progress = {
        jsonrpc: '2.0' as const,
        method: 'notifications/progress',
        params: { pad: 'x'.repeat(64 * 1024) },
      };
      let sent = 0;
      let refused: unknown;
      while (sent < 8 * MAX_UNREAD_BYTES) {
        try {
          await session.send(progress, { relatedRequestId: 1 });
        } catch (error) {
          refused = error;
          break;
        }
        sent += 64 * 1024;
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(String(refused)).toContain('No connection established for request ID: 1');
      expect(sent).toBeLessThan(4 * MAX_UNREAD_BYTES);
    } finally {
      socket.destroy();
      await session.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
