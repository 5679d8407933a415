import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../env.js';
import { type BodyLimits, readIncoming, readWebStream, tooLarge, unreadBodyReason } from './read-body.js';

/**
 * A mount's answer, in its own protocol, to a body refused unread; undefined: the gateway's own
 * error. `env` is the HTTP server's (the client address, for the mount's refusal receipt limits).
 */
export type RefuseUnread = (request: Request, reason: string, env?: unknown) => Promise<Response | undefined>;

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
 * it closes the connection. A declared length over the limit on a mount's
 * route is answered by the mount's `refuseUnread` (A2A's receipt), as
 * `preread` answers one found while reading.
 */
export function bodyLimit(limits: BodyLimits, refuseUnread?: RefuseUnread): MiddlewareHandler<GatewayEnv> {
  return async function bodyLimit(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= limits.maxBytes)) {
      return refused(c.req.raw, c.env, tooLarge(limits.maxBytes), refuseUnread);
    }
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
    return undefined;
  };
}

/**
 * For a mounted app that reads `c.req` itself (A2A): its body is read first,
 * through `readBody` and so under the limits, then served to it from memory.
 * A body refused for its size or nesting is answered by `refuseUnread` when
 * the mount gives one (A2A answers a JSON-RPC refusal with its receipt);
 * undefined from it, or any other refusal, is the gateway's own error.
 */
export function preread(refuseUnread?: RefuseUnread): MiddlewareHandler<GatewayEnv> {
  return async function preread(c, next) {
    try {
      await c.get('readBody')();
    } catch (error) {
      return refused(c.req.raw, c.env, error, refuseUnread);
    }
    await next();
    return undefined;
  };
}

/** The mount's answer to a body refused unread, else the refusal itself thrown (the gateway's error). */
async function refused(
  request: Request,
  env: unknown,
  error: unknown,
  refuseUnread?: RefuseUnread,
): Promise<Response> {
  const reason = unreadBodyReason(error);
  const answer = reason === undefined ? undefined : await refuseUnread?.(request, reason, env);
  if (answer !== undefined) return answer;
  throw error;
}
