import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { OacpError } from '../core/errors.js';
import { hostGuardFor } from '../core/loopback.js';
import type { HttpApprovalDesk } from './approval-desk.js';
import type { Bridge, ServedSession } from './bridge.js';
import type { McpErrorCode } from './errors.js';
import { INTERNAL_ERROR, PARSE_ERROR } from './jsonrpc.js';
import { fromSdkTransport } from './transport.js';

export interface HttpServeOptions {
  readonly host: string;
  readonly port: number;
  /** Path of the Streamable HTTP endpoint. */
  readonly path?: string;
  readonly approvals?: HttpApprovalDesk;
  /** Serves `GET /oacp/receipts/<index>` (the envelope) and `…/<index>/proof` (a tlog-proof file). */
  readonly receipts?: ReceiptFetcher;
  /** Largest request body read, in bytes. */
  readonly maxBodyBytes?: number;
}

/** Reads receipts back from the log; a TransparencyLog is one. */
export interface ReceiptFetcher {
  entry(index: number): Promise<Uint8Array>;
  proofFile(index: number): string;
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
  close(): Promise<void>;
}

/**
 * Serves the bridge over Streamable HTTP (`/mcp`) and the legacy HTTP+SSE
 * transport (`GET /sse`, `POST /messages`). Each MCP session gets its own
 * upstream server. On a loopback address the Host header must name the
 * listener (core/loopback.ts, the gateway's check too), which stops
 * DNS-rebinding pages from reaching the bridge.
 */
export async function serveHttp(bridge: Bridge, options: HttpServeOptions): Promise<HttpBridge> {
  const path = options.path ?? '/mcp';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const hostGuard = hostGuardFor(options.host);
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = hostGuard(req.headers.host);
    if (host.effect === 'deny') return text(res, 403, host.reason);
    if (options.approvals !== undefined && (await options.approvals.handle(req, res))) return;
    const url = new URL(req.url ?? '/', 'http://bridge.invalid');
    if (url.pathname === path) return streamableRequest(req, res);
    const receipt = /^\/oacp\/receipts\/(\d+)(\/proof)?$/.exec(url.pathname);
    if (receipt !== null && req.method === 'GET' && options.receipts !== undefined) {
      return serveReceipt(res, options.receipts, Number(receipt[1]), receipt[2] !== undefined);
    }
    if (url.pathname === '/sse' && req.method === 'GET') return sseOpen(res);
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = sse.get(url.searchParams.get('sessionId') ?? '');
      if (transport === undefined) return text(res, 404, 'unknown SSE session');
      return transport.handlePostMessage(req, res);
    }
    return text(res, 404, `not found; the MCP endpoint is ${path}`);
  };

  const streamableRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId);
      if (transport === undefined) return jsonRpcError(res, 404, -32001, 'Session not found');
      if (req.method !== 'POST') return transport.handleRequest(req, res);
      const body = await readJson(req, maxBody);
      if (!body.ok) return jsonRpcError(res, 400, PARSE_ERROR, body.reason);
      return transport.handleRequest(req, res, body.value);
    }
    if (req.method !== 'POST') return jsonRpcError(res, 400, -32000, 'Bad Request: no mcp-session-id header');
    const body = await readJson(req, maxBody);
    if (!body.ok) return jsonRpcError(res, 400, PARSE_ERROR, body.reason);
    if (!isInitialize(body.value)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: a new session must start with initialize');
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        streamable.set(id, transport);
      },
    });
    let session: ServedSession;
    try {
      session = await bridge.serve(fromSdkTransport(transport));
    } catch (error) {
      const id = (body.value as { id?: unknown }).id;
      const reason = `cannot start the MCP server: ${error instanceof Error ? error.message : String(error)}`;
      return jsonRpcError(
        res,
        500,
        INTERNAL_ERROR,
        reason,
        typeof id === 'string' || typeof id === 'number' ? id : null,
      );
    }
    void session.closed.then(() => {
      if (transport.sessionId !== undefined) streamable.delete(transport.sessionId);
    });
    await transport.handleRequest(req, res, body.value);
  };

  const sseOpen = async (res: ServerResponse): Promise<void> => {
    const transport = new SSEServerTransport('/messages', res);
    sse.set(transport.sessionId, transport);
    const session = await bridge.serve(fromSdkTransport(transport));
    void session.closed.then(() => sse.delete(transport.sessionId));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        text(res, 500, `bridge error: ${error instanceof Error ? error.message : String(error)}`);
      else res.end();
    });
  });
  await listen(server, options.host, options.port);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = `http://${host}:${address.port}`;
  return {
    url: new URL(path, base),
    sseUrl: new URL('/sse', base),
    close: async () => {
      await bridge.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (message) =>
      typeof message === 'object' &&
      message !== null &&
      (message as { method?: unknown }).method === 'initialize',
  );
}

async function readJson(
  req: IncomingMessage,
  limit: number,
): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return { ok: false, reason: `Parse error: body larger than ${limit} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (error) {
    return { ok: false, reason: `Parse error: ${error instanceof Error ? error.message : String(error)}` };
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
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(log.proofFile(index));
      return;
    }
    const bytes = await log.entry(index);
    res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from(bytes));
  } catch (error) {
    text(res, 404, `no receipt ${index}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: string | number | null = null,
): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }));
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${body}\n`);
}
