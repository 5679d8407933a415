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
    'x-request-id': c.get('requestId'),
    'content-length': Buffer.byteLength(body),
  });
  outgoing.end(body);
  // The id too, so the telemetry middleware finds it and does not copy this marker to add it.
  return new Response(null, {
    status,
    headers: { [ALREADY_SENT]: 'true', 'x-request-id': c.get('requestId') },
  });
}

/**
 * Sends a stream of text chunks (server-sent events) the same way: the headers
 * at once, then each chunk as the iterator yields it, with the socket's
 * backpressure respected. A client that goes away ends the iterator
 * (`return()`), as cancelling a web stream would; an iterator that throws
 * breaks the connection off, so the client sees an incomplete answer.
 */
export function sendChunks(
  c: GatewayContext,
  status: number,
  headers: Readonly<Record<string, string>>,
  chunks: AsyncIterable<string>,
): Response {
  const iterator = chunks[Symbol.asyncIterator]();
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing === undefined || outgoing.headersSent) return webStream(status, headers, iterator);
  outgoing.writeHead(status, { ...headers, 'x-request-id': c.get('requestId') });
  outgoing.flushHeaders();
  void pump(outgoing, iterator);
  return new Response(null, { status, headers: { [ALREADY_SENT]: 'true' } });
}

async function pump(outgoing: ServerResponse, iterator: AsyncIterator<string>): Promise<void> {
  let gone = false;
  const leave = () => {
    if (outgoing.writableFinished || gone) return;
    gone = true;
    void Promise.resolve(iterator.return?.(undefined)).catch(() => undefined);
  };
  outgoing.once('close', leave);
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done || gone) break;
      if (!outgoing.write(next.value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            outgoing.off('drain', done);
            outgoing.off('close', done);
            resolve();
          };
          outgoing.on('drain', done);
          outgoing.on('close', done);
        });
      }
    }
    if (!gone) outgoing.end();
  } catch (error) {
    outgoing.destroy(error instanceof Error ? error : new Error(String(error)));
  } finally {
    outgoing.off('close', leave);
  }
}

/** The same stream as a web Response, for an app called without a Node server. */
function webStream(
  status: number,
  headers: Readonly<Record<string, string>>,
  iterator: AsyncIterator<string>,
): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  return new Response(stream, { status, headers });
}
