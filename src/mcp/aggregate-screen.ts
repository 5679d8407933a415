import { CallToolRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { ClientIds, IN_FLIGHT_REFUSAL } from './client-ids.js';
import { errorResponse, INTERNAL_ERROR, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.js';
import type { MessageTransport } from './transport.js';

/** What the front does with a tools/call its SDK server would refuse unrecorded. */
export type MalformedCall = (params: Readonly<Record<string, unknown>>) => Promise<Record<string, unknown>>;

/**
 * The one wrapper between the multi-server front's client transport and its
 * SDK server. It first delivers the messages that arrived before the SDK
 * server was connected (`buffered`: the initialize that started the servers),
 * then screens every message.
 *
 * The multi-server front's SDK server answers a tools/call whose params do
 * not fit its schema (`arguments` an array, no name) with a bare error, and
 * drops a tools/call sent as a notification: neither would leave a receipt.
 * This screen takes such messages before the SDK sees them: a request goes
 * to `malformed` (which has the pipeline refuse it, with its receipt) and is
 * answered with what that returns; a notification is handed to `notified`.
 *
 * It also bounds what the client has in flight across every server, requests and their bytes
 * as they arrived (MAX_CLIENT_IN_FLIGHT, counted as a server's own session counts them): at the
 * bound the client's transport is `busy`, so an HTTP POST is answered `503` with `Retry-After`
 * (refusedBusy) before it is read in. Each server's session counts only requests, its messages
 * reaching it in memory: without this, a few huge bodies could hold any amount of memory.
 */
export function screenedCalls(
  transport: MessageTransport,
  handlers: {
    /** Messages received before the SDK server was ready, delivered (and screened) at start. */
    readonly buffered: unknown[];
    readonly malformed: MalformedCall;
    readonly notified: (params: Readonly<Record<string, unknown>>) => Promise<void>;
    /**
     * A request under an id already in flight: refused with its receipt, the answer returned
     * (the SDK server keys each request's cancellation by the client's id, so the second would
     * take the first one's place and cancelling the id would no longer reach the first).
     */
    readonly duplicate: (
      method: string,
      id: JsonRpcId,
      params: Readonly<Record<string, unknown>>,
    ) => Promise<JsonRpcMessage>;
  },
): MessageTransport {
  const { buffered, malformed, notified, duplicate } = handlers;
  let consumer: ((message: unknown) => void) | undefined;
  const inFlight = new ClientIds();
  const send = (message: JsonRpcMessage, options?: { relatedRequestId?: JsonRpcId }) => {
    if (!('method' in message) && message.id !== null) inFlight.release(message.id);
    return transport.send(message, options);
  };
  const screen = (raw: unknown, bytes?: number): void => {
    const message = raw as { id?: unknown; method?: unknown; params?: unknown } | null;
    if (typeof message !== 'object' || message === null) {
      consumer?.(raw);
      return;
    }
    const { id, method } = message;
    const params = isRecord(message.params) ? message.params : {};
    if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) {
      if (!inFlight.claim(id, bytes)) {
        void duplicate(method, id, params).then((answer) => send(answer));
        return;
      }
    }
    if (method === 'notifications/cancelled') {
      const cancelled = params.requestId;
      if (typeof cancelled === 'string' || typeof cancelled === 'number') inFlight.release(cancelled);
    }
    if (method !== 'tools/call') {
      consumer?.(raw);
      return;
    }
    if (message.id === undefined) {
      void notified(params).catch(() => undefined);
      return;
    }
    if (CallToolRequestSchema.safeParse(raw).success) {
      consumer?.(raw);
      return;
    }
    void malformed(params).then(
      (result) => send({ jsonrpc: '2.0', id: id as JsonRpcId, result }),
      // As the SDK server answers a handler that throws: an unrecorded refusal (unrecordedDenial), or
      // the server's own error (a result withheld for want of its receipt), its code and data kept.
      (error: unknown) =>
        send(
          error instanceof McpError
            ? errorResponse(id as JsonRpcId, error.code, error.message, error.data)
            : errorResponse(
                id as JsonRpcId,
                INTERNAL_ERROR,
                error instanceof Error ? error.message : String(error),
              ),
        ),
    );
  };
  transport.onmessage = screen;
  transport.busy = () => (inFlight.atBound('full') ? IN_FLIGHT_REFUSAL : undefined);
  return {
    // The client's transport is started already (it carried `buffered`): only the replay is left.
    async start() {
      queueMicrotask(() => {
        for (const message of buffered.splice(0)) screen(message);
      });
    },
    send,
    close: () => transport.close(),
    get onmessage() {
      return consumer;
    },
    set onmessage(handler) {
      consumer = handler;
    },
    get onclose() {
      return transport.onclose;
    },
    set onclose(handler) {
      transport.onclose = handler;
    },
    get onerror() {
      return transport.onerror;
    },
    set onerror(handler) {
      transport.onerror = handler;
    },
  };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
