import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRefusal } from '../../a2a/http-refusal.js';
import { type HttpFailure, refusalOf } from './errors.js';

/** Answers a refusal in a mount's own protocol (A2A: JSON-RPC), or undefined for the gateway's JSON. */
export type RefuseRequest = (request: Request, refusal: HttpRefusal) => Response | undefined;

/**
 * The answer to a request the listener refuses before the app reads it (too many headers, a
 * repeated header, an unmet Expect, a request-target no URL can be built from): in the protocol
 * of the mount it was sent to, through the same mapping as the app's own refusals (Mount.refuseRequest,
 * its id null since no body was read), else the gateway's JSON error. Nothing more is read from the
 * connection after it (pipelined requests behind a refused one are not trusted either).
 */
export function listenerRefusal(
  req: IncomingMessage,
  failure: HttpFailure,
  refuseRequest: RefuseRequest | undefined,
): Response {
  const target = refuseRequest === undefined ? undefined : targetOf(req);
  const answer = target === undefined ? undefined : refuseRequest?.(target, refusalOf(failure));
  const response =
    answer ??
    Response.json(failure.body, {
      status: failure.status,
      headers:
        failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) },
    });
  response.headers.set('connection', 'close');
  return response;
}

/** Writes an answer made outside the app to Node's response. */
export async function writeAnswer(res: ServerResponse, response: Response): Promise<void> {
  const body = await response.text();
  res.writeHead(response.status, Object.fromEntries(response.headers)).end(body);
}

/**
 * The method and path of the request, on a fixed origin: which mount a refusal belongs to depends
 * on the path alone, and the Host header may be the very thing refused (absent, repeated).
 * Undefined when not even that can be built (a method fetch refuses, such as CONNECT).
 */
function targetOf(req: IncomingMessage): Request | undefined {
  try {
    const target = req.url ?? '/';
    // An absolute-form target keeps only its path: the mount is chosen by path, never by a host the client named.
    const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? new URL(target).pathname : target;
    return new Request(new URL(path, 'http://gateway.invalid'), { method: req.method ?? 'GET' });
  } catch {
    return undefined;
  }
}
