/**
 * The JSON-RPC 2.0 shapes the bridge routes. It classifies messages by their
 * envelope only and leaves params and results untouched, so fields a newer MCP
 * revision adds pass through without the bridge having to know them.
 */
import { redactText } from '../core/redact.js';

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcError {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResult | JsonRpcError;

export type Classified =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'result'; message: JsonRpcResult }
  | { kind: 'error'; message: JsonRpcError }
  | { kind: 'invalid'; id: JsonRpcId | null; reason: string };

/** Standard JSON-RPC 2.0 error codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** MCP's "connection closed" / "request timeout" codes, reused for a server that went away. */
export const CONNECTION_CLOSED = -32000;

/** The members of a JSON-RPC request or notification. */
export const REQUEST_MEMBERS = ['jsonrpc', 'id', 'method', 'params'] as const;

export function classify(value: unknown): Classified {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalid', id: null, reason: 'a JSON-RPC message must be an object' };
  }
  const m = value as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  if (m.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: 'jsonrpc must be "2.0"' };
  if (m.params !== undefined && !isRecord(m.params)) {
    return { kind: 'invalid', id, reason: 'params must be an object' };
  }
  if (typeof m.method === 'string') {
    if ('id' in m) {
      if (!isId(m.id)) return { kind: 'invalid', id: null, reason: ID_RULE };
      return { kind: 'request', message: m as unknown as JsonRpcRequest };
    }
    return { kind: 'notification', message: m as unknown as JsonRpcNotification };
  }
  if ('method' in m) return { kind: 'invalid', id, reason: 'method must be a string' };
  // JSON-RPC 2.0: never both. Passed on, readers disagree on which counts (an SDK client reads
  // neither and its request hangs), and a receipt could record one while the client acts on the other.
  if ('result' in m && 'error' in m)
    return { kind: 'invalid', id, reason: 'a response has a result or an error, not both' };
  if ('result' in m) {
    if (!isId(m.id)) return { kind: 'invalid', id: null, reason: 'a response needs the id of its request' };
    if (!isRecord(m.result)) return { kind: 'invalid', id, reason: 'result must be an object' };
    return { kind: 'result', message: m as unknown as JsonRpcResult };
  }
  if ('error' in m) {
    const error = m.error;
    if (!isRecord(error) || typeof error.code !== 'number' || typeof error.message !== 'string') {
      return { kind: 'invalid', id, reason: 'error must have a numeric code and a message' };
    }
    if (m.id !== null && !isId(m.id)) return { kind: 'invalid', id: null, reason: ID_RULE };
    return { kind: 'error', message: m as unknown as JsonRpcError };
  }
  return { kind: 'invalid', id, reason: 'neither a request, a notification nor a response' };
}

export function errorResponse(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcError {
  // Its message may quote a caller, a server or an error: secret-shaped text never leaves in it.
  const clean = redactText(message);
  const error: JsonRpcErrorObject =
    data === undefined ? { code, message: clean } : { code, message: clean, data };
  return { jsonrpc: '2.0', id, error };
}

/** Map key that keeps 1 and "1" apart, as JSON-RPC does. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

/**
 * What an id may be. An integer past 2^53-1 is refused: it parses to a neighbour
 * (9007199254740993 to ...992), and the answer would carry an id the sender never used.
 */
const ID_RULE = 'id must be a string or an integer from -(2^53-1) to 2^53-1';

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
