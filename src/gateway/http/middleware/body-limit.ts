import type { MiddlewareHandler } from 'hono';
import { JsonNesting, tooDeep } from '../../../core/bounded-json.js';
import type { GatewayEnv } from '../env.js';
import { httpError } from '../errors.js';

export interface BodyLimits {
  /** Largest body, in bytes. */
  readonly maxBytes: number;
  /** Deepest JSON nesting (every body the gateway takes is JSON, the A2A routes' included). */
  readonly maxDepth: number;
}

/**
 * The body limits, before authentication and before anything reads the body.
 * A declared Content-Length over the limit is refused at once; otherwise the
 * body is replaced by a stream that counts bytes and JSON nesting as they are
 * read, and fails at either limit (413, or 400 for nesting), so a chunked body
 * of any length or depth costs at most the limit in memory and never reaches
 * a parser. Nothing is read here: a request refused before its body is needed
 * (no credentials, an unknown signer, a missing scope) is never read. What the
 * client still sends after the answer is read and dropped (up to 16 MiB), never kept (the
 * HTTP server, @hono/node-server, closes the connection after 500 ms or 64
 * MiB), so the client can read the answer before the connection goes.
 */
export function bodyLimit(limits: BodyLimits): MiddlewareHandler<GatewayEnv> {
  return async function bodyLimit(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= limits.maxBytes)) throw tooLarge(limits.maxBytes);
    const raw = c.req.raw;
    if (raw.body !== null) {
      c.req.raw = new Request(raw.url, {
        method: raw.method,
        headers: raw.headers,
        body: limitedStream(raw.body, limits),
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

/** How much of a refused body is read and dropped so the client sees the answer (the server closes after 500 ms anyway). */
const DISCARD_BYTES = 16 * 1024 * 1024;

/**
 * Reads the rest of a refused body and drops it, up to DISCARD_BYTES: a
 * client still sending would otherwise find the connection closed under it
 * before reading the answer. Nothing is kept.
 */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (let dropped = 0; dropped <= DISCARD_BYTES; ) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The connection went first: nothing left to drop.
  }
}

function tooLarge(maxBytes: number) {
  return httpError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxBytes} bytes`);
}

/** `source`, read only on demand (high-water mark 0), failing at the first byte over a limit. */
function limitedStream(source: ReadableStream<Uint8Array>, limits: BodyLimits): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const nesting = new JsonNesting();
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
        const refusal =
          seen > limits.maxBytes
            ? tooLarge(limits.maxBytes)
            : nesting.feed(value) > limits.maxDepth
              ? httpError('BAD_REQUEST', tooDeep('the request body', limits.maxDepth))
              : undefined;
        if (refusal !== undefined) {
          controller.error(refusal);
          void discard(reader);
          return;
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
