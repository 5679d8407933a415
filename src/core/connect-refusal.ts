import type { Duplex } from 'node:stream';

/**
 * Answers every CONNECT an OACP listener (the gateway, the MCP bridge's `--http`) receives. Node
 * hands CONNECT to a `connect` listener, not to the request handler, and with none it closed the
 * socket without a word: the client could not tell a refusal from a crash. Neither listener is
 * a proxy, so CONNECT is a 405 naming what it is, and the connection closes (whatever follows
 * the request on it would be tunnel bytes, never a request to read).
 */
export function refuseConnect(server: {
  on(event: 'connect', listener: (req: unknown, socket: Duplex) => void): unknown;
}): void {
  server.on('connect', (_req, socket) => {
    const body = JSON.stringify({
      error: {
        code: 'METHOD_NOT_ALLOWED',
        message: 'CONNECT is refused: this listener is not a proxy; send GET, POST or DELETE to a path',
      },
    });
    socket.on('error', () => socket.destroy());
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nallow: GET, POST, DELETE\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
