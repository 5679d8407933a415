import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../env.js';
import { type BodyLimits, BodyTooDeepError, readIncoming, readWebStream, tooLarge } from './read-body.js';

/**
 * The body limits, before authentication and before anything reads the body.
 * A declared Content-Length over the limit is refused at once; otherwise
 * `readBody` (the one way a body is read) counts bytes and JSON nesting as
 * they arrive and fails at the first byte over either limit (413, or 400 for
 * nesting), so a chunked body of any length or depth costs at most the limit
 * in memory and never reaches a parser. Nothing is read here: a request
 * refused before its body is needed (no credentials, an unknown signer, a
 * missing scope) is never read, and the HTTP server (@hono/node-server)
 * drops what the client still sends, for at most 500 ms or 64 MiB, before
 * it closes the connection.
 */
export function bodyLimit(limits: BodyLimits): MiddlewareHandler<GatewayEnv> {
  return async function bodyLimit(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= limits.maxBytes)) throw tooLarge(limits.maxBytes);
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const noBody = c.req.method === 'GET' || c.req.method === 'HEAD';
    let read: Promise<Uint8Array> | undefined;
    c.set('readBody', () => {
      read ??= noBody
        ? Promise.resolve(new Uint8Array(0))
        : incoming !== undefined
          ? readIncoming(incoming, limits).then((buffer) => {
              // Whoever reads the Request afterwards (c.req.text() in a mounted app) gets these
              // bytes: @hono/node-server serves a pre-read `rawBody` instead of the socket.
              (incoming as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
              return buffer;
            })
          : c.req.raw.body === null
            ? Promise.resolve(new Uint8Array(0))
            : readWebStream(c.req.raw.body, limits).then((bytes) => {
                c.req.raw = new Request(c.req.raw.url, {
                  method: c.req.raw.method,
                  headers: c.req.raw.headers,
                  body: bytes,
                  signal: c.req.raw.signal,
                });
                return bytes;
              });
      return read;
    });
    await next();
  };
}

/**
 * For a mounted app that reads `c.req` itself (A2A): its body is read first,
 * through `readBody` and so under the limits, then served to it from memory.
 * A body refused for its nesting is answered by `tooDeep` when the mount gives
 * one (A2A answers a JSON-RPC refusal with its receipt); undefined from it, or
 * any other refusal, is the gateway's own error.
 */
export function preread(
  tooDeep?: (request: Request, reason: string) => Promise<Response | undefined>,
): MiddlewareHandler<GatewayEnv> {
  return async function preread(c, next) {
    try {
      await c.var.readBody();
    } catch (error) {
      const answer =
        tooDeep !== undefined && error instanceof BodyTooDeepError
          ? await tooDeep(c.req.raw, error.message)
          : undefined;
      if (answer !== undefined) return answer;
      throw error;
    }
    await next();
    return undefined;
  };
}
