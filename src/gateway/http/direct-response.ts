import type { ServerResponse } from 'node:http';
import type { GatewayContext } from './env.js';

/**
 * @hono/node-server's marker for a response its handler wrote to the Node
 * response itself (`RESPONSE_ALREADY_SENT` in `@hono/node-server/utils/response`
 * carries it; the name is not exported alone): the server then writes nothing.
 */
const ALREADY_SENT = 'x-hono-already-sent';

/**
 * Sends a whole answer straight to the Node response when the app is served
 * by listen.ts, instead of through a web `Response` that the server then reads
 * back as a stream: measured here, that round trip cost about 0.2 ms of CPU
 * per request, most of what a model call's answer costs to write. The headers
 * are the answer's plus `x-request-id` (what the telemetry middleware adds to
 * every other response). The returned Response only carries the status for
 * the telemetry middleware and the marker; when the app is called without a
 * Node server (`app.fetch` in tests) it is the answer itself.
 */
export function sendWhole(
  c: GatewayContext,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): Response {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing === undefined || outgoing.headersSent) return new Response(body, { status, headers });
  outgoing.writeHead(status, {
    ...headers,
    'x-request-id': c.var.requestId,
    'content-length': Buffer.byteLength(body),
  });
  outgoing.end(body);
  return new Response(null, { status, headers: { [ALREADY_SENT]: 'true' } });
}
