import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANSWER_MAX, echoText } from '../core/redact.js';
import type { UnreadRefusal } from './http-unread.js';
import {
  classify,
  errorResponse,
  INVALID_REQUEST,
  type JsonRpcId,
  type JsonRpcMessage,
  PARSE_ERROR,
} from './jsonrpc.js';
import type { InvalidMessageHandler, MessageTransport } from './transport.js';

/** Protocol revisions a client may name in `MCP-Protocol-Version` (the MCP SDK's list). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
  '2024-10-07',
];

/** Most messages one POST may carry as a batch (as the MCP SDK). */
export const MAX_BATCH_SIZE = 100;

/** Bytes an SSE stream may hold unread by its client before it is cut (writeEvent). */
export const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

/** A comment line on an open SSE stream this often keeps proxies from closing it. */
const KEEP_ALIVE_MS = 15_000;

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  // No `connection: keep-alive`: it made Node keep a socket whose client asked `Connection:
  // close` (RFC 9112 §9.6). HTTP/1.1 persists by default; Node decides.
  'x-accel-buffering': 'no',
} as const;

/** The answer to one POST: the requests it carried, and its response once it has begun. */
interface PostStream {
  readonly res: ServerResponse;
  readonly ids: readonly JsonRpcId[];
  readonly answers: Map<JsonRpcId, JsonRpcMessage>;
  /** Set once a server-to-client message made this answer an SSE stream. */
  sse: boolean;
}

/** Why a POST is refused before its messages reach the session: an HTTP status and a JSON-RPC error. */
export interface HttpRefusal {
  readonly status: number;
  readonly code: number;
  readonly message: string;
}

/**
 * One Streamable HTTP session (MCP 2025-06-18 "Streamable HTTP"), on node:http
 * directly: a POST's messages go to the bridge session, and the answer is one
 * `application/json` body once every request it carried is answered, or an SSE
 * stream from the moment the server sends something else related to it
 * (progress, a sampling request) first. `GET` opens the one server-to-client
 * stream, `DELETE` ends the session. The MCP SDK's web-stream transport did the
 * same through a Request/Response/ReadableStream per call; this one writes the
 * node response directly (docs/mcp-bridge.md has the measured difference).
 */
export class StreamableSession implements MessageTransport {
  readonly sessionId: string;
  onmessage?: ((message: unknown, bytes?: number) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  oninvalid?: InvalidMessageHandler | undefined;
  onrefused?: ((raw: unknown, reason: string, busy?: boolean) => void) | undefined;
  busy?: (() => string | undefined) | undefined;
  /** Which open POST answers each client request, keyed by its JSON-RPC id (a Map keeps 1 and "1" apart). */
  readonly #streams = new Map<JsonRpcId, PostStream>();
  #standalone: { res: ServerResponse; timer: NodeJS.Timeout } | undefined;
  #initialized = false;
  #closed = false;
  /** DELETE was answered: the session is ending and takes no new request. */
  #ending = false;

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }

  get closed(): boolean {
    return this.#closed || this.#ending;
  }

  async start(): Promise<void> {}

  /**
   * A POST whose headers and body passed checkPostHeaders and postMessages. `initialize`
   * is accepted once, as the first request of the session.
   */
  post(req: IncomingMessage, res: ServerResponse, messages: readonly JsonRpcMessage[], bytes = 0): void {
    if (this.#answeredClosed(res)) return;
    const initialize = messages.some(isInitializeRequest);
    if (initialize) {
      if (this.#initialized) {
        jsonRpcError(res, 400, INVALID_REQUEST, 'Invalid Request: Server already initialized');
        return;
      }
      this.#initialized = true;
    } else {
      if (this.#refusedVersion(req, res)) return;
    }
    if (refusedBusy(this, res, messages)) return;
    const ids: JsonRpcId[] = [];
    for (const message of messages) {
      if (!('method' in message && 'id' in message)) continue;
      // Answers are matched to their POST by id: an id twice in flight could never get both answers.
      if (this.#streams.has(message.id) || ids.includes(message.id)) {
        const reason = `Invalid Request: the id ${JSON.stringify(message.id).slice(0, 80)} is already used by a request in flight`;
        jsonRpcError(res, 400, INVALID_REQUEST, reason);
        // Nothing of the POST is forwarded: the tool calls in it are recorded as refused.
        this.onrefused?.(messages, reason);
        return;
      }
      ids.push(message.id);
    }
    // What each message counts in flight: its share of the body's bytes (MessageTransport.onmessage).
    const share = messages.length === 0 ? 0 : Math.ceil(bytes / messages.length);
    if (ids.length === 0) {
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, share);
      return;
    }
    const stream: PostStream = { res, ids, answers: new Map(), sse: false };
    for (const id of ids) this.#streams.set(id, stream);
    res.once('close', () => {
      // The client went away before its answer: what is still to come for it has nowhere to go.
      for (const id of ids) if (this.#streams.get(id) === stream) this.#streams.delete(id);
    });
    for (const message of messages) this.onmessage?.(message, share);
  }

  /**
   * A POST of this session whose body parsed but cannot be taken as it stands
   * (UnreadRefusal): refused with `status` (`400`; `413` for a body cut at the size limit), each message through the session's
   * `oninvalid`, which records it where its method could be read and answers
   * with the receipt in `error.data` (one error, or one per message of a batch).
   */
  refuseUnread(
    req: IncomingMessage,
    res: ServerResponse,
    reason: string,
    refusals: readonly UnreadRefusal[],
    status = 400,
  ): void {
    if (this.#answeredClosed(res)) return;
    if (this.#refusedVersion(req, res)) return;
    const answers: JsonRpcMessage[] = [];
    let left = refusals.length;
    refusals.forEach(({ id, unread }, at) => {
      const answer = (message: JsonRpcMessage) => {
        answers[at] = message;
        if (--left > 0) return;
        const body = JSON.stringify(refusals.length === 1 ? answers[0] : answers);
        res
          .writeHead(status, { 'content-type': 'application/json', 'mcp-session-id': this.sessionId })
          .end(body);
      };
      if (this.oninvalid === undefined) answer(errorResponse(id, INVALID_REQUEST, reason));
      else this.oninvalid(id, INVALID_REQUEST, reason, unread, answer);
    });
  }

  /** Answers 404 for a session that has ended; true when it did. */
  #answeredClosed(res: ServerResponse): boolean {
    if (!this.closed) return false;
    jsonRpcError(res, 404, -32001, 'Session not found');
    return true;
  }

  /** Answers a request naming a protocol version this session does not speak; true when it did. */
  #refusedVersion(req: IncomingMessage, res: ServerResponse): boolean {
    const version = checkProtocolVersion(req);
    if (version === undefined) return false;
    jsonRpcError(res, version.status, version.code, version.message);
    return true;
  }

  /** Opens the session's one standalone server-to-client SSE stream. */
  get(req: IncomingMessage, res: ServerResponse): void {
    if (this.#answeredClosed(res)) return;
    if (!req.headers.accept?.includes('text/event-stream')) {
      jsonRpcError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
      return;
    }
    if (this.#refusedVersion(req, res)) return;
    if (this.#standalone !== undefined) {
      jsonRpcError(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
      return;
    }
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    res.flushHeaders();
    const timer = setInterval(() => res.write(': keepalive\n\n'), KEEP_ALIVE_MS);
    timer.unref();
    const standalone = { res, timer };
    this.#standalone = standalone;
    res.once('close', () => {
      clearInterval(timer);
      if (this.#standalone === standalone) this.#standalone = undefined;
    });
  }

  /** Ends the session at the client's request. */
  async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#answeredClosed(res)) return;
    if (this.#refusedVersion(req, res)) return;
    res.writeHead(200).end();
    this.#ending = true;
    // The session ends first, so the calls still open get their answers before the streams close.
    const ending = this.onclose;
    if (ending !== undefined) ending();
    else await this.close();
  }

  canAnswer(id: JsonRpcId): boolean {
    return this.#streams.has(id);
  }

  async send(message: JsonRpcMessage, options?: { relatedRequestId?: JsonRpcId }): Promise<void> {
    const response = !('method' in message);
    const requestId = response ? (message.id ?? undefined) : options?.relatedRequestId;
    if (requestId === undefined) {
      if (response)
        throw new Error(
          'Cannot send a response on a standalone SSE stream unless resuming a previous client request',
        );
      // No stream open: the spec lets the server drop what it cannot deliver.
      if (this.#standalone !== undefined) writeEvent(this.#standalone.res, message);
      return;
    }
    const stream = this.#streams.get(requestId);
    if (stream === undefined)
      throw new Error(`No connection established for request ID: ${String(requestId)}`);
    if (!response) {
      if (!stream.sse) {
        stream.sse = true;
        stream.res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
      }
      writeEvent(stream.res, message);
      return;
    }
    stream.answers.set(requestId, message);
    if (stream.answers.size < stream.ids.length) return;
    for (const id of stream.ids) this.#streams.delete(id);
    if (stream.sse) {
      let events = '';
      for (const id of stream.ids) events += sseEvent(stream.answers.get(id) as JsonRpcMessage);
      stream.res.end(events);
      return;
    }
    const body =
      stream.ids.length === 1
        ? JSON.stringify(message)
        : JSON.stringify(stream.ids.map((id) => stream.answers.get(id)));
    stream.res
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'mcp-session-id': this.sessionId,
      })
      .end(body);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const open = new Set(this.#streams.values());
    this.#streams.clear();
    for (const stream of open) {
      if (!stream.sse && !stream.res.headersSent) stream.res.writeHead(200, SSE_HEADERS);
      stream.res.end();
    }
    if (this.#standalone !== undefined) {
      clearInterval(this.#standalone.timer);
      this.#standalone.res.end();
      this.#standalone = undefined;
    }
    this.onclose?.();
  }
}

/**
 * The checks a POST passes before its body is read: it must accept both
 * answer forms and send JSON.
 */
export function checkPostHeaders(req: IncomingMessage): HttpRefusal | undefined {
  const accept = req.headers.accept;
  if (accept === undefined || !accept.includes('application/json') || !accept.includes('text/event-stream'))
    return {
      status: 406,
      code: -32000,
      message: 'Not Acceptable: Client must accept both application/json and text/event-stream',
    };
  if (!isJsonContentType(req.headers['content-type']))
    return {
      status: 415,
      code: -32000,
      message: 'Unsupported Media Type: Content-Type must be application/json',
    };
  return undefined;
}

/** A parsed POST body as JSON-RPC messages, or why it is refused (a batch over 100, an invalid message). */
export function postMessages(
  body: unknown,
): { ok: true; messages: JsonRpcMessage[] } | { ok: false; refusal: HttpRefusal } {
  const raw = Array.isArray(body) ? body : [body];
  if (Array.isArray(body) && body.length > MAX_BATCH_SIZE)
    return refuse(400, INVALID_REQUEST, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
  if (raw.length === 0) return refuse(400, INVALID_REQUEST, 'Invalid Request: an empty batch');
  const messages: JsonRpcMessage[] = [];
  for (const value of raw) {
    const classified = classify(value);
    if (classified.kind === 'invalid')
      return refuse(400, PARSE_ERROR, `Parse error: Invalid JSON-RPC message: ${classified.reason}`);
    messages.push(classified.message);
  }
  if (messages.length > 1 && messages.some(isInitializeRequest))
    return refuse(400, INVALID_REQUEST, 'Invalid Request: Only one initialization request is allowed');
  return { ok: true, messages };
}

export function isInitializeRequest(message: JsonRpcMessage): boolean {
  return 'method' in message && message.method === 'initialize' && 'id' in message;
}

function refuse(status: number, code: number, message: string): { ok: false; refusal: HttpRefusal } {
  return { ok: false, refusal: { status, code, message } };
}

function checkProtocolVersion(req: IncomingMessage): HttpRefusal | undefined {
  const version = req.headers['mcp-protocol-version'];
  if (version === undefined || (typeof version === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(version)))
    return undefined;
  return {
    status: 400,
    code: -32000,
    message: `Bad Request: Unsupported protocol version: ${String(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
  };
}

export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  if (header === 'application/json') return true;
  return header.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

/**
 * Writes one event on an open SSE stream. A client that does not read its
 * stream while the server keeps sending would grow the bridge's memory without
 * bound: past MAX_UNREAD_BYTES waiting in the socket's buffer, the stream is cut.
 */
function writeEvent(res: ServerResponse, message: JsonRpcMessage): void {
  res.write(sseEvent(message));
  cutWhenUnread(res);
}

/** Cuts `res` once more than MAX_UNREAD_BYTES wait in its buffer, unread by its client. */
function cutWhenUnread(res: ServerResponse): void {
  if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
}

/**
 * `res`, each of its writes followed by the MAX_UNREAD_BYTES check of writeEvent: for a stream
 * written by another's code, the MCP SDK's legacy SSE transport, which writes every event with
 * no look at what is still unread. A client that opened `GET /sse` and never read it grew the
 * bridge by all the server sent (300 MB of log messages: 250 MB of RSS); cut, its session ends.
 */
export function unreadCapped(res: ServerResponse): ServerResponse {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]) => {
    const written = write(...args);
    cutWhenUnread(res);
    return written;
  }) as ServerResponse['write'];
  return res;
}

function sseEvent(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * A POST to a session that takes nothing more now (MessageTransport.busy: too much in flight, a
 * server not reading its stdin) is refused whole with `503` and `Retry-After`, nothing of it
 * forwarded, its tool calls recorded as refused. Answers and cancellations still pass: they are
 * what lets the session take more again.
 */
export function refusedBusy(
  transport: Pick<MessageTransport, 'busy' | 'onrefused'>,
  res: ServerResponse,
  messages: readonly JsonRpcMessage[],
): boolean {
  if (!messages.some(takesMore)) return false;
  const busy = transport.busy?.();
  if (busy === undefined) return false;
  jsonRpcError(res.setHeader('retry-after', '1'), 503, -32000, busy);
  transport.onrefused?.(messages, busy, true);
  return true;
}

/** A request, or a notification other than a cancellation. */
function takesMore(message: JsonRpcMessage): boolean {
  return 'method' in message && message.method !== 'notifications/cancelled';
}

export function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: string | number | null = null,
): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message: echoText(message, ANSWER_MAX) } }));
}
