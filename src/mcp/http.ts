import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { BodyBytes } from '../core/body-bytes.js';
import { numberOutOfRange, parseFiniteJson, withoutByteOrderMark } from '../core/bounded-json.js';
import { refuseConnect } from '../core/connect-refusal.js';
import { capConnections, defaultMaxConnections } from '../core/connection-cap.js';
import { OacpError } from '../core/errors.js';
import { continueOnRead, unmetExpectation } from '../core/expect-continue.js';
import { countHeaders, tooManyHeaders } from '../core/header-count.js';
import { hostGuardFor, isLoopbackAddress } from '../core/loopback.js';
import { ANSWER_MAX, echoError, echoText } from '../core/redact.js';
import { guardRequest, withLowerScheme } from '../core/request-target.js';
import { repeatedHeader } from '../core/single-headers.js';
import { SLOW_CLIENT_LIMITS } from '../core/slow-clients.js';
import { DEFAULT_MAX_UNREAD_ANSWER_BYTES, UnreadAnswers } from '../core/unread-answers.js';
import type { HttpApprovalDesk } from './approval-desk.js';
import type { Bridge, ServedSession } from './bridge.js';
import type { McpErrorCode } from './errors.js';
import { clientGate, type HttpClientAuth, type Unauthenticated } from './http-client-auth.js';
import {
  checkPostHeaders,
  isInitializeRequest,
  isJsonContentType,
  jsonRpcError,
  MAX_BATCH_SIZE,
  postMessages,
  refusedBusy,
  StreamableSession,
  unreadCapped,
} from './http-streamable.js';
import { cutRefusal, type UnreadRefusal, unreadRefusals } from './http-unread.js';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  type JsonRpcMessage,
  PARSE_ERROR,
} from './jsonrpc.js';
import { DEFAULT_MAX_SESSIONS, SessionSlots } from './session-slots.js';
import { fromSdkTransport, type MessageTransport } from './transport.js';

export interface HttpServeOptions {
  readonly host: string;
  readonly port: number;
  /** Path of the Streamable HTTP endpoint. */
  readonly path?: string;
  /**
   * Who may use it: the bearer token every request must carry, or `'none'` (a loopback
   * address only). No default: each caller decides (http-client-auth.ts).
   */
  readonly clientAuth: HttpClientAuth;
  /** Told of each request refused for want of the client token (a 401; nothing of it read). */
  readonly onUnauthenticated?: (req: IncomingMessage, why: Unauthenticated) => void;
  readonly approvals?: HttpApprovalDesk;
  /** Serves `GET /oacp/receipts/<index>` (the envelope) and `…/<index>/proof` (a tlog-proof file). */
  readonly receipts?: ReceiptFetcher;
  /** Largest request body read, in bytes. */
  readonly maxBodyBytes?: number;
  /** Bytes of request bodies held at once over every connection (16 bodies of the largest size by default). */
  readonly maxBodyBytesInFlight?: number;
  /** A session with no request for this long ends and its server stops (15 minutes by default). */
  readonly idleTimeoutMs?: number;
  /** Sessions served at once (each has its own server); more are refused with 503 until one ends. */
  readonly maxSessions?: number;
  /** Connections held at once; one past it is closed as it is accepted (defaultMaxConnections() by default). */
  readonly maxConnections?: number;
  /** Told when connections past the cap start being dropped (see capConnections). */
  readonly onDropping?: (dropped: number, max: number) => void;
  /** Bytes of answers held at once for clients that do not read them (64 MiB by default; core/unread-answers.ts). */
  readonly maxUnreadAnswerBytes?: number;
  /** Told of each answer cut because unread answers held more than that. */
  readonly onUnreadCut?: (bytes: number, limit: number) => void;
}

/** How long an HTTP session may go without a request before it ends and its server stops. */
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000;

/** Reads receipts back from the log; a TransparencyLog is one. */
export interface ReceiptFetcher {
  entry(index: number): Promise<Uint8Array>;
  proofFile(index: number): Promise<string>;
}

/** Where a receipt is served on the bridge's HTTP listener. */
export function receiptPath(index: number): string {
  return `/oacp/receipts/${index}`;
}

export interface HttpBridge {
  /** Base URL of the Streamable HTTP endpoint, e.g. http://127.0.0.1:3333/mcp. */
  readonly url: URL;
  /** Legacy HTTP+SSE endpoint (2024-11-05 transport). */
  readonly sseUrl: URL;
  /** Bytes of answers written that their clients have not read yet, over every connection. */
  heldAnswerBytes(): number;
  close(): Promise<void>;
}

/**
 * Serves the bridge over Streamable HTTP (`/mcp`) and the legacy HTTP+SSE
 * transport (`GET /sse`, `POST /messages`). Each MCP session gets its own
 * upstream server. On a loopback address the Host header must name the
 * listener (core/loopback.ts, the gateway's check too), which stops
 * DNS-rebinding pages from reaching the bridge. Then every request but the
 * approval desk's (its own operator token) must carry the client token
 * (`clientAuth`), checked on its headers before its body is read.
 */
export async function serveHttp(bridge: Bridge, options: HttpServeOptions): Promise<HttpBridge> {
  const path = options.path ?? '/mcp';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const bodies = new BodyBytes(options.maxBodyBytesInFlight ?? 16 * maxBody);
  const hostGuard = hostGuardFor(options.host);
  if (options.clientAuth === 'none' && !isLoopbackAddress(options.host)) {
    throw new OacpError<McpErrorCode>(
      'MCP_BAD_OPTIONS',
      `--http-auth none: ${options.host} is not a loopback address; a bridge without client authentication listens on loopback only`,
    );
  }
  const authenticated = clientGate(options.clientAuth, options.onUnauthenticated);
  const streamable = new Map<string, StreamableSession>();
  const sse = new Map<string, LegacySession>();
  const idle = new IdleSessions(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  const slots = new SessionSlots(options.maxSessions ?? DEFAULT_MAX_SESSIONS);
  const unread = new UnreadAnswers(
    options.maxUnreadAnswerBytes ?? DEFAULT_MAX_UNREAD_ANSWER_BYTES,
    options.onUnreadCut,
  );

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.url !== undefined) req.url = withLowerScheme(req.url);
    const tooMany = tooManyHeaders(req);
    if (tooMany !== undefined) return text(res.setHeader('connection', 'close'), 431, tooMany);
    const repeated = repeatedHeader(req);
    if (repeated !== undefined) return text(res.setHeader('connection', 'close'), 400, repeated);
    const unmet = unmetExpectation(req.headers);
    if (unmet !== undefined) return text(res.setHeader('connection', 'close'), 417, unmet);
    const host = guardRequest(hostGuard, req.url, req.headers.host, req.headers.origin);
    // Closed, its body unread: a refused client must not have the bridge drain what it announced.
    if (host.effect === 'deny') return text(res.setHeader('connection', 'close'), 403, host.reason);
    if (options.approvals !== undefined && (await options.approvals.handle(req, res))) return;
    // Every other path is the clients': the token first, before any body is read or session made.
    if (!authenticated(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://bridge.invalid');
    if (url.pathname === path) return streamableRequest(req, res);
    const receipt = /^\/oacp\/receipts\/(\d+)(\/proof)?$/.exec(url.pathname);
    if (receipt !== null && req.method === 'GET' && options.receipts !== undefined) {
      return serveReceipt(res, options.receipts, Number(receipt[1]), receipt[2] !== undefined);
    }
    if (url.pathname === '/sse' && req.method === 'GET') return sseOpen(res);
    if (url.pathname === '/messages' && req.method === 'POST') {
      const sessionId = url.searchParams.get('sessionId') ?? '';
      const legacy = sse.get(sessionId);
      if (legacy === undefined) return text(res, 404, 'unknown SSE session');
      return idle.during(sessionId, () => legacyPost(req, res, maxBody, bodies, legacy));
    }
    return text(res, 404, `not found; the MCP endpoint is ${path}`);
  };

  const streamableRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // TRACE, OPTIONS, PUT…: the endpoint answers GET, POST and DELETE only, with or without a session.
    if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'DELETE')
      return methodNotAllowed(res);
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId);
      if (transport === undefined) return jsonRpcError(res, 404, -32001, 'Session not found');
      // A standing GET stream is not activity: only requests keep a session alive.
      if (req.method === 'GET') return transport.get(req, res);
      if (req.method === 'DELETE') return transport.delete(req, res);
      if (req.method !== 'POST') return methodNotAllowed(res);
      return idle.during(sessionId, async () => {
        const post = await readPost(req, res, maxBody, bodies, transport);
        if (post === undefined) return;
        transport.post(req, res, post.messages, post.bytes);
        await responseDone(res);
      });
    }
    if (req.method !== 'POST') return jsonRpcError(res, 400, -32000, 'Bad Request: no mcp-session-id header');
    const post = await readPost(req, res, maxBody, bodies);
    if (post === undefined) return;
    const { messages } = post;
    const initialize = messages[0];
    if (initialize === undefined || !isInitializeRequest(initialize)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: a new session must start with initialize');
    }
    const replyId = 'id' in initialize ? initialize.id : null;
    if (!slots.take())
      return jsonRpcError(res.setHeader('retry-after', '5'), 503, -32000, slots.refusal, replyId);
    const transport = new StreamableSession(randomUUID());
    let session: ServedSession;
    try {
      session = await bridge.serve(transport);
    } catch (error) {
      slots.give();
      const reason = `cannot start the MCP server: ${echoError(error)}`;
      return jsonRpcError(res, 500, INTERNAL_ERROR, reason, replyId);
    }
    const id = transport.sessionId;
    streamable.set(id, transport);
    // The first request (initialize) counts as busy from the moment the session is made.
    idle.add(id, session, 1);
    void session.closed.then(() => {
      slots.give();
      streamable.delete(id);
      idle.remove(id);
    });
    try {
      transport.post(req, res, messages, post.bytes);
      await responseDone(res);
    } finally {
      idle.release(id);
    }
  };

  const sseOpen = async (res: ServerResponse): Promise<void> => {
    if (!slots.take()) return text(res.setHeader('retry-after', '5'), 503, slots.refusal);
    const transport = new SSEServerTransport('/messages', unreadCapped(withoutKeepAlive(res)));
    const down = fromSdkTransport(transport);
    sse.set(transport.sessionId, { transport, down });
    let session: ServedSession;
    try {
      session = await bridge.serve(down);
    } catch (error) {
      slots.give();
      sse.delete(transport.sessionId);
      throw error;
    }
    idle.add(transport.sessionId, session);
    void session.closed.then(() => {
      slots.give();
      sse.delete(transport.sessionId);
      idle.remove(transport.sessionId);
    });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    unread.watch(res);
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) text(res, 500, `bridge error: ${echoError(error)}`);
      else res.end();
    });
  };
  const server = createServer(SLOW_CLIENT_LIMITS, onRequest);
  continueOnRead(server, onRequest);
  countHeaders(server);
  refuseConnect(server);
  const maxConnections = options.maxConnections ?? defaultMaxConnections();
  capConnections(server, maxConnections, (dropped) => options.onDropping?.(dropped, maxConnections));
  await listen(server, options.host, options.port);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = `http://${host}:${address.port}`;
  return {
    url: new URL(path, base),
    sseUrl: new URL('/sse', base),
    heldAnswerBytes: () => unread.held,
    close: async () => {
      idle.stop();
      await bridge.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Ends sessions nobody has sent a request for `timeoutMs`: an abandoned
 * client must not leave a server process running. A request in progress
 * keeps its session alive however long it takes.
 */
class IdleSessions {
  readonly #timeoutMs: number;
  readonly #sessions = new Map<string, { session: ServedSession; lastSeen: number; busy: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#timer = setInterval(() => this.#sweep(), Math.max(10, Math.min(timeoutMs / 4, 30_000)));
    this.#timer.unref();
  }

  /** `busy`: requests already under way for it (the initialize that made it). */
  add(id: string, session: ServedSession, busy = 0): void {
    this.#sessions.set(id, { session, lastSeen: Date.now(), busy });
  }

  release(id: string): void {
    const entry = this.#sessions.get(id);
    if (entry === undefined) return;
    entry.busy = Math.max(0, entry.busy - 1);
    entry.lastSeen = Date.now();
  }

  remove(id: string): void {
    this.#sessions.delete(id);
  }

  async during<T>(id: string, work: () => Promise<T>): Promise<T> {
    const entry = this.#sessions.get(id);
    if (entry !== undefined) entry.busy++;
    try {
      return await work();
    } finally {
      if (entry !== undefined) {
        entry.busy--;
        entry.lastSeen = Date.now();
      }
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.#sessions) {
      if (entry.busy > 0 || now - entry.lastSeen < this.#timeoutMs) continue;
      this.#sessions.delete(id);
      void entry.session.close();
    }
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new OacpError<McpErrorCode>('MCP_HTTP_LISTEN', `cannot listen on ${host}:${port}: ${error.message}`),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

/**
 * Reads and parses a POST's body and checks its headers; on a refusal the answer is written and
 * undefined returned. `session`: the live session the POST belongs to, which records a body it
 * refuses once read whole (http-unread.ts); a POST that would start a session has none to record it.
 */
async function readPost(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  bodies: BodyBytes,
  session?: StreamableSession,
): Promise<{ readonly messages: JsonRpcMessage[]; readonly bytes: number } | undefined> {
  // The body is read first, so broken framing is a 400 whatever the headers say.
  const body = await readJson(req, limit, bodies);
  if (!body.ok && body.busy === true) {
    res.setHeader('connection', 'close').setHeader('retry-after', '5');
    return void jsonRpcError(res, 503, -32000, body.reason);
  }
  // Over the limit, the rest is never read: the connection cannot carry another request.
  if (!body.ok && body.tooLarge === true) res.setHeader('connection', 'close');
  if (!body.ok) {
    const unread = body.unread;
    const status = body.tooLarge === true ? 413 : 400;
    if (unread === undefined || session === undefined)
      return void jsonRpcError(
        res,
        status,
        unread === undefined ? PARSE_ERROR : INVALID_REQUEST,
        body.reason,
      );
    const refused = checkPostHeaders(req);
    if (refused !== undefined) return void jsonRpcError(res, refused.status, refused.code, refused.message);
    if (unread.length > MAX_BATCH_SIZE) {
      const reason = `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`;
      return void jsonRpcError(res, 400, INVALID_REQUEST, reason);
    }
    session.refuseUnread(req, res, body.reason, unread, status);
    return void (await responseDone(res));
  }
  const refused = checkPostHeaders(req);
  if (refused !== undefined) return void jsonRpcError(res, refused.status, refused.code, refused.message);
  const parsed = postMessages(body.value);
  if (!parsed.ok) {
    jsonRpcError(res, parsed.refusal.status, parsed.refusal.code, parsed.refusal.message);
    // A live session records the tool calls of a body it refused, as a stdio line's.
    return void session?.onrefused?.(body.value, parsed.refusal.message);
  }
  return { messages: parsed.messages, bytes: body.bytes };
}

/** A legacy HTTP+SSE session: the SDK's transport, and the bridge's side of it (which records refusals). */
interface LegacySession {
  readonly transport: SSEServerTransport;
  readonly down: MessageTransport;
}

/**
 * A legacy `POST /messages`: its body read here under the same limits as a Streamable HTTP
 * POST, not by the MCP SDK (which read 4 MiB and let 1e400 through as null), so a body that
 * cannot be taken whole is refused and recorded by its session as any other transport's
 * (http-unread.ts). On this transport every answer goes on the SSE stream: the POST is
 * answered 202 and the refusal, its receipt in `error.data`, follows there.
 */
const UNSUPPORTED_TYPE = 'Unsupported content-type: the body must be application/json';

async function legacyPost(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  bodies: BodyBytes,
  { transport, down }: LegacySession,
): Promise<void> {
  const body = await readJson(req, limit, bodies);
  if (!body.ok && body.busy === true) {
    res.setHeader('connection', 'close').setHeader('retry-after', '5');
    return text(res, 503, body.reason);
  }
  // Declared over the limit, nothing of it was read: no message to answer on the stream.
  if (!body.ok && body.tooLarge === true && body.unread === undefined)
    return text(res.setHeader('connection', 'close'), 413, body.reason);
  const json = isJsonContentType(req.headers['content-type']);
  if (body.ok) {
    const invalid = postMessages(body.value);
    // The SDK would answer 400 and drop it unrecorded: the tool calls in it are recorded first,
    // unless the body is refused for its type (the SDK's own answer then, and nothing in it was a message).
    if (!invalid.ok || Array.isArray(body.value)) {
      if (!json) return text(res, 400, UNSUPPORTED_TYPE);
      const reason = invalid.ok
        ? 'Invalid Request: this transport takes no batches'
        : invalid.refusal.message;
      down.onrefused?.(body.value, reason);
      return text(res, 400, reason);
    }
    if (json && refusedBusy(down, res, invalid.messages)) return;
    return transport.handlePostMessage(req, res, body.value);
  }
  if (body.unread === undefined) return text(res, 400, body.reason);
  const cut = body.unread.some(({ unread }) => unread.cut === true);
  // A cut body's rest is never read: the connection cannot carry another request.
  if (cut) res.setHeader('connection', 'close');
  if (!json) return text(res, 400, UNSUPPORTED_TYPE);
  text(res, 202, 'Accepted');
  for (const { id, unread } of body.unread.slice(0, MAX_BATCH_SIZE)) {
    if (down.oninvalid !== undefined) down.oninvalid(id, INVALID_REQUEST, body.reason, unread);
    else if (id !== null) void down.send(errorResponse(id, INVALID_REQUEST, body.reason));
  }
}

/** Resolves once the response is written or its connection is gone. */
function responseDone(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

function methodNotAllowed(res: ServerResponse): void {
  res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'application/json' }).end(
    JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Method not allowed: the MCP endpoint takes GET, POST and DELETE' },
    }),
  );
}

async function readJson(
  req: IncomingMessage,
  limit: number,
  bodies: BodyBytes,
): Promise<
  | { ok: true; value: unknown; bytes: number }
  | {
      ok: false;
      reason: string;
      busy?: boolean;
      /** Over the size limit: declared so (nothing read), or cut at the crossing (`unread` names what was). */
      tooLarge?: boolean;
      unread?: readonly UnreadRefusal[];
    }
> {
  const tooLarge = `body larger than ${limit} bytes refused (the body size limit)`;
  // A length declared over the limit is refused before a byte is read: waiting for a body it
  // will refuse held the connection until the request timeout (60 s) when none came.
  if (Number(req.headers['content-length']) > limit) return { ok: false, tooLarge: true, reason: tooLarge };
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const length = (chunk as Buffer).length;
      if (size + length > limit) {
        // The rest is never read: what a receipt can name is the first `limit` bytes, and that it went on.
        const read = Buffer.concat([...chunks, (chunk as Buffer).subarray(0, limit - size)]);
        return { ok: false, tooLarge: true, reason: tooLarge, unread: [cutRefusal(read)] };
      }
      if (!bodies.take(length)) {
        return {
          ok: false,
          busy: true,
          reason: `the bridge holds ${bodies.limit} bytes of request bodies at once, and other requests hold them now; retry`,
        };
      }
      size += length;
      chunks.push(chunk as Buffer);
    }
  } finally {
    bodies.give(size);
  }
  const text = withoutByteOrderMark(Buffer.concat(chunks).toString('utf8'));
  try {
    const parsed = parseFiniteJson(text);
    if (parsed.outOfRange !== undefined) {
      // Forwarded, it would arrive as null; recorded, it has no digest: its bytes are named instead.
      const reason = numberOutOfRange('the body', parsed.outOfRange);
      return { ok: false, reason, unread: unreadRefusals(text, parsed.value) };
    }
    return { ok: true, value: parsed.value, bytes: size };
  } catch {
    // The parser's message quotes the text, which may hold a secret (a key, a vault value).
    return { ok: false, reason: 'Parse error: the body is not valid JSON' };
  }
}

async function serveReceipt(
  res: ServerResponse,
  log: ReceiptFetcher,
  index: number,
  proof: boolean,
): Promise<void> {
  try {
    if (proof) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(await log.proofFile(index));
      return;
    }
    const bytes = await log.entry(index);
    res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from(bytes));
  } catch (error) {
    text(res, 404, `no receipt ${index}: ${echoError(error)}`);
  }
}

/**
 * `res`, its `writeHead` dropping a `Connection` header: the MCP SDK's SSE
 * transport says `keep-alive`, which made Node keep a socket whose client asked
 * `Connection: close` (RFC 9112 §9.6). HTTP/1.1 persists by default; Node decides.
 */
function withoutKeepAlive(res: ServerResponse): ServerResponse {
  const writeHead = res.writeHead.bind(res) as (
    status: number,
    headers?: Record<string, unknown>,
  ) => ServerResponse;
  const patched = (status: number, headers?: Record<string, unknown>) =>
    writeHead(
      status,
      headers === undefined
        ? undefined
        : Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'connection')),
    );
  res.writeHead = patched as ServerResponse['writeHead'];
  return res;
}

/** A plain-text answer; like every answer of the bridge, redacted and cut (it may quote the caller). */
function text(res: ServerResponse, status: number, body: string): void {
  res
    .writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
    .end(`${echoText(body, ANSWER_MAX)}\n`);
}
