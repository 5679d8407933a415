/**
 * The address of the client a request came from, as @hono/node-server hands it to a
 * fetch handler (`env.incoming.socket.remoteAddress`); undefined when the request did
 * not arrive over a socket (a test calling `app.fetch`). A forwarding header is never
 * read: anyone can write one.
 */
export function peerAddressOf(env: unknown): string | undefined {
  const socket = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming
    ?.socket;
  const address = socket?.remoteAddress;
  return typeof address === 'string' && address !== '' ? address : undefined;
}
