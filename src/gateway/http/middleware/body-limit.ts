import type { MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../env.js';
import { httpError } from '../errors.js';

/**
 * The body limit, before authentication and before anything reads the body.
 * A declared Content-Length over the limit is refused at once; otherwise the
 * body is replaced by a stream that counts bytes as they are read and fails
 * with 413 at the limit, so a chunked body of any length costs at most the
 * limit in memory. Nothing is read here: a request refused before its body is
 * needed (no credentials, an unknown signer, a missing scope) is never read.
 * What the client still sends after the answer is discarded by the HTTP
 * server (@hono/node-server drains for at most 500 ms or 64 MiB, then closes),
 * so the client can read the answer before the connection goes.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler<GatewayEnv> {
  return async function bodyLimit(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= maxBytes)) throw tooLarge(maxBytes);
    const raw = c.req.raw;
    if (raw.body !== null) {
      c.req.raw = new Request(raw.url, {
        method: raw.method,
        headers: raw.headers,
        body: limitedStream(raw.body, maxBytes),
        signal: raw.signal,
        duplex: 'half',
      } as RequestInit);
    }
    let read: Promise<Uint8Array> | undefined;
    c.set('readBody', () => {
      read ??= c.req.arrayBuffer().then((buffer) => new Uint8Array(buffer));
      return read;
    });
    await next();
  };
}

function tooLarge(maxBytes: number) {
  return httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBytes} bytes`);
}

/** `source`, read only on demand (high-water mark 0), failing once more than `maxBytes` arrived. */
function limitedStream(source: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        seen += value.byteLength;
        if (seen > maxBytes) {
          controller.error(tooLarge(maxBytes));
          await reader.cancel().catch(() => undefined);
          return;
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
