import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonRpcId, JsonRpcMessage } from './jsonrpc.js';
import type { UnreadMessage } from './unread-message.js';

/**
 * What the bridge needs from a connection: the MCP SDK's Transport contract,
 * plus `oninvalid` for input that is not JSON-RPC, so the bridge can answer it
 * with a JSON-RPC error instead of dropping it silently.
 */
export interface MessageTransport {
  start(): Promise<void>;
  send(message: JsonRpcMessage, options?: { relatedRequestId?: JsonRpcId }): Promise<void>;
  close(): Promise<void>;
  /** `bytes`: how long the message was as it arrived, when the transport knows (a stdio line). */
  onmessage?: ((message: unknown, bytes?: number) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  /** `unread` when the message was refused before it could be parsed whole (see UnreadMessage). */
  oninvalid?: InvalidMessageHandler | undefined;
  /**
   * Messages the transport refused and answered itself (an HTTP POST body that is not JSON-RPC, or
   * that reuses an id in flight): given as parsed, so the tool calls in them are recorded as
   * refusals, as a stdio line's are (malformed-calls.ts).
   */
  onrefused?: ((raw: unknown, reason: string, busy?: boolean) => void) | undefined;
  /**
   * Set by the session: why it takes nothing more from its client now (too much in flight, a
   * server not reading), else undefined. A transport that cannot stop reading (HTTP) refuses a
   * POST with it (`503`, `Retry-After`, and `onrefused` with `busy` true) before reading it in.
   */
  busy?: (() => string | undefined) | undefined;
  /**
   * False when the client's request `id` is gone (its HTTP POST closed mid-call, or stdio's
   * output closed): an answer to it has nowhere to go. Absent: every answer can be sent.
   */
  canAnswer?(id: JsonRpcId): boolean;
  /** True while more of what was sent waits unwritten than the transport holds (stdio's output pipe). */
  backlogged?(): boolean;
  /** Calls `then` once what waits is written out. */
  whenDrained?(then: () => void): void;
  /**
   * Stops reading until resume(): a server is held while its client reads too slowly, a client
   * while its server does, or while it has too much in flight. No message is delivered meanwhile.
   */
  pause?(): void;
  resume?(): void;
}

/**
 * Input refused before it became a message. `answer`, when given, is where the
 * refusal's JSON-RPC error goes instead of `send` (an HTTP POST answered 400).
 */
export type InvalidMessageHandler = (
  id: JsonRpcId | null,
  code: number,
  reason: string,
  unread?: UnreadMessage,
  answer?: (message: JsonRpcMessage) => void,
) => void;

/** Wraps any MCP SDK transport (Streamable HTTP, SSE, in-memory, the HTTP client). */
export function fromSdkTransport(transport: Transport): MessageTransport {
  const adapted: MessageTransport = {
    start: () => transport.start(),
    send: (message, options) =>
      transport.send(
        message as unknown as JSONRPCMessage,
        options?.relatedRequestId === undefined ? undefined : { relatedRequestId: options.relatedRequestId },
      ),
    close: () => transport.close(),
  };
  transport.onmessage = (message) => adapted.onmessage?.(message);
  transport.onclose = () => adapted.onclose?.();
  transport.onerror = (error) => adapted.onerror?.(error);
  return adapted;
}

/** The other direction: an SDK Client or Server over one of ours (a sandboxed server's stdio, say). */
export function toSdkTransport(transport: MessageTransport): Transport {
  const adapted: Transport = {
    start: () => transport.start(),
    send: (message) => transport.send(message as unknown as JsonRpcMessage),
    close: () => transport.close(),
  };
  transport.onmessage = (message) => adapted.onmessage?.(message as JSONRPCMessage);
  transport.onclose = () => adapted.onclose?.();
  transport.onerror = (error) => adapted.onerror?.(error);
  return adapted;
}
