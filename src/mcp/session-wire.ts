import { RECEIPT_META } from './call-recorder.js';
import { ClientIds, IN_FLIGHT_REFUSAL } from './client-ids.js';
import type { ClientView } from './client-view.js';
import {
  errorResponse,
  INTERNAL_ERROR,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResult,
} from './jsonrpc.js';
import { MAX_BACKLOG_BYTES } from './line-transport.js';
import type { ReadyGate } from './ready-gate.js';
import { type ClientPending, isToolCall, PendingRequests, type ToolCallPending } from './session-pending.js';
import { type BridgeEvent, REQUEST_TIMEOUT, type SessionParts } from './session-types.js';
import { type Outcome, outcomeMessage, type ToolCallFlow } from './tool-call-flow.js';
import type { MessageTransport } from './transport.js';
import type { UpstreamLink } from './upstream.js';
import type { UpstreamSupervisor } from './upstream-supervisor.js';

/**
 * What every part of a bridge session shares: the two connections, the
 * requests in flight, whether the server is up, the tool-call flow. Sending,
 * forwarding with a deadline, and the bridge's own requests live here; what
 * to do with each message lives in the parts (session.ts for the client's,
 * server-traffic.ts for the server's, session-tool-calls.ts for tools/call,
 * session-supervision.ts for restarts).
 */
export class SessionWire {
  readonly pending = new PendingRequests();
  /**
   * The client's request ids in flight, each with how many requests carry it: an answer going
   * down, or the client cancelling, takes one off. A second request under an id in flight is
   * refused (session.ts): its answer and its cancellation could not say which call they mean.
   */
  readonly #clientIds = new ClientIds();
  /** Set while the server is held for a backlogged client (#holdServer). */
  #holding = false;
  /**
   * Why the client is not read now (none: it is read): its server's stdin is backlogged
   * (#holdClient), or the client has too much in flight (claimClientId). One pause, one resume.
   */
  readonly #clientHolds = new Set<'server-backlog' | 'in-flight'>();
  /** Where a server response to a forwarded request goes (set by ServerTraffic). */
  answered: (response: JsonRpcResult | JsonRpcError) => void = () => undefined;

  constructor(
    readonly parts: SessionParts,
    readonly down: MessageTransport,
    readonly client: ClientView,
    readonly ready: ReadyGate,
    readonly upstream: () => UpstreamSupervisor,
    readonly flow: () => ToolCallFlow,
    readonly timeoutMs: number,
  ) {}

  event(event: BridgeEvent): void {
    this.parts.onEvent?.(event);
  }

  /** Forwards a client's request under a fresh id, with its deadline. */
  forward(request: JsonRpcRequest, pending: ClientPending): void {
    const id = this.pending.nextUpId();
    const token = (request.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    this.pending.forwarded(id, pending, token, this.timeoutMs, (expired) => this.#timedOut(expired));
    this.sendUp({ ...request, id }, (reason) =>
      this.answered(errorResponse(id, INTERNAL_ERROR, `could not forward the request: ${reason}`)),
    );
  }

  /** The answer to a tools/call: to the in-process caller when there is one, else to the client. */
  replyTo(pending: ToolCallPending, outcome: Outcome): void {
    if (pending.reply !== undefined) pending.reply(outcome);
    else this.sendDown(outcomeMessage(pending.clientId, outcome));
  }

  /** One of the bridge's own requests to the server (initialize replay, tools/list for pins). */
  askServer(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const id = this.pending.nextUpId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.dropUp(id);
        reject(new Error(`the server did not answer ${method} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      timer.unref();
      this.pending.internal(id, {
        kind: 'internal',
        settle: (message) => {
          clearTimeout(timer);
          if ('result' in message) resolve(message.result);
          else
            reject(
              new Error(
                `server answered ${method} with error ${message.error.code}: ${message.error.message}`,
              ),
            );
        },
      });
      this.sendUp({ jsonrpc: '2.0', id, method, params }, (reason) =>
        this.answered(errorResponse(id, INTERNAL_ERROR, reason)),
      );
    });
  }

  /**
   * Over Streamable HTTP a server-to-client message must ride on the stream of
   * a request still open; stdio carries no such link, so the bridge picks the
   * request a progress token names, else the newest one in flight.
   */
  related(clientId: JsonRpcId | undefined): { relatedRequestId?: JsonRpcId } | undefined {
    const id = clientId ?? this.pending.newestClientRequest();
    return id === undefined ? undefined : { relatedRequestId: id };
  }

  /** Sends on the current link; a message that cannot be sent is reported, and `failed` told why. */
  sendUp(message: JsonRpcMessage, failed?: (reason: string) => void): void {
    const link = this.upstream().link;
    if (link === undefined) return;
    link.transport.send(message).catch((error: unknown) => {
      this.event({ type: 'send-failed', to: 'server', reason: describe(error) });
      failed?.(describe(error));
    });
    if (link.transport.backlogged?.() === true) this.#holdClient(link);
  }

  /**
   * #holdServer's other direction: the server reads its stdin more slowly than the client writes
   * (or not at all): the client is not read until the server's input drains or the server is
   * gone, so what waits for the server stays bounded instead of growing in the bridge.
   */
  #holdClient(link: UpstreamLink): void {
    if (this.#clientHolds.has('server-backlog') || link.transport.whenDrained === undefined) return;
    if (!this.#hold('server-backlog')) return;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#release('server-backlog');
    };
    link.transport.whenDrained(release);
    void link.ended.then(release);
  }

  /** Stops reading the client for `why`; false when its transport cannot stop (HTTP: each POST is its own). */
  #hold(why: 'server-backlog' | 'in-flight'): boolean {
    if (this.down.pause === undefined) return false;
    if (this.#clientHolds.size === 0) this.down.pause();
    this.#clientHolds.add(why);
    return true;
  }

  /** `why` no longer holds the client: it is read again once nothing else holds it. */
  #release(why: 'server-backlog' | 'in-flight'): void {
    if (!this.#clientHolds.delete(why)) return;
    if (this.#clientHolds.size === 0) this.down.resume?.();
  }

  /**
   * Counts a client request under `id` in flight, `bytes` long as it arrived (0 when its transport
   * does not say); false when one already was (a duplicate: ClientIds). With MAX_CLIENT_IN_FLIGHT
   * reached, the client is not read until half of it is answered: a burst of requests waits in
   * the client's own pipe, not in the bridge, however slowly the server answers.
   */
  claimClientId(id: JsonRpcId, bytes = 0): boolean {
    const claimed = this.#clientIds.claim(id, bytes);
    if (this.#clientIds.atBound('full')) this.#hold('in-flight');
    return claimed;
  }

  /**
   * Why the session takes nothing more from its client now, for a client transport that cannot
   * stop reading (HTTP: each POST is its own; stdio is held instead): too much in flight, or the
   * server not reading what it was sent. Undefined when it takes more. `counted`: the request
   * asking is already counted in flight (refused when it did not fit), else the question is
   * whether one more would fit (a POST, before it is read in).
   */
  busy(counted = false): string | undefined {
    if (this.#clientIds.atBound(counted ? 'over' : 'full')) return IN_FLIGHT_REFUSAL;
    if (this.upstream().link?.transport.backlogged?.() === true)
      return `the server has not read the last ${MAX_BACKLOG_BYTES / MIB} MiB the bridge sent it (the bridge's bound on what waits for a server): retry once it has`;
    return undefined;
  }

  /** One request under `id` is over (answered, or cancelled); true when none is left under it. */
  releaseClientId(id: JsonRpcId): boolean {
    const none = this.#clientIds.release(id);
    if (this.#clientHolds.has('in-flight') && this.#clientIds.halfFree()) this.#release('in-flight');
    return none;
  }

  /** False when the client's request `id` is gone, so its answer would reach nobody (MessageTransport.canAnswer). */
  canAnswer(id: JsonRpcId): boolean {
    return this.down.canAnswer?.(id) ?? true;
  }

  /** Sends to the client; a response that cannot be sent becomes an error response to the same id. */
  sendDown(message: JsonRpcMessage, options?: { relatedRequestId?: JsonRpcId }): void {
    // Answered: the id is free again, and once no request is left under it, its progress token.
    if (!('method' in message) && message.id !== null && this.releaseClientId(message.id)) {
      this.pending.forgetProgress(message.id);
    }
    const sent = this.down.send(message, options);
    if (this.down.backlogged?.() === true) this.#holdServer();
    sent.catch((error: unknown) => {
      this.event({ type: 'send-failed', to: 'client', reason: describe(error) });
      // An answer whose request is gone (a dropped POST) has nowhere to go, and its error neither.
      if (
        !('method' in message) &&
        message.id !== null &&
        !('error' in message && message.error.code === INTERNAL_ERROR) &&
        this.canAnswer(message.id)
      ) {
        this.sendDown(
          errorResponse(message.id, INTERNAL_ERROR, `the answer could not be sent: ${describe(error)}`),
        );
      }
    });
  }

  /**
   * The client reads more slowly than the server sends (a flood of notifications/message, say):
   * the server's output is not read until the client's drains, so what waits for the client stays
   * bounded (MAX_BACKLOG_BYTES and a pipe's worth) instead of growing in the bridge without end.
   * The server then blocks on its own writes. Over HTTP each stream is bounded on its own instead.
   */
  #holdServer(): void {
    const link = this.upstream().link;
    if (this.#holding || link?.transport.pause === undefined || this.down.whenDrained === undefined) return;
    this.#holding = true;
    link.transport.pause();
    this.down.whenDrained(() => {
      this.#holding = false;
      link.transport.resume?.();
    });
  }

  /** The server did not answer in time: its caller gets an error now, and a tool call its receipt. */
  #timedOut(id: number): void {
    const pending = this.pending.takeUp(id);
    if (pending === undefined || pending.kind === 'internal') return;
    this.pending.forgetClient(pending.clientId);
    this.event({ type: 'request-timeout', method: pending.method });
    this.sendUp({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'the bridge request deadline passed' },
    });
    const message = `the server did not answer ${pending.method} within ${this.timeoutMs / 1000} s (the bridge's request deadline)`;
    if (isToolCall(pending)) {
      void this.flow()
        .finish({
          call: pending.call,
          outcome: 'timeout',
          forwarded: true,
          error: { code: REQUEST_TIMEOUT, message },
        })
        .then((receipt) => this.replyTo(pending, failure(REQUEST_TIMEOUT, message, receipt)));
      return;
    }
    this.sendDown(errorResponse(pending.clientId, REQUEST_TIMEOUT, message));
  }
}

const MIB = 1024 * 1024;

/** An error answer carrying the receipt, when there is one. */
export function failure(
  code: number,
  message: string,
  receipt: Record<string, unknown> | undefined,
): Outcome {
  return {
    error: { code, message, ...(receipt === undefined ? {} : { data: { [RECEIPT_META]: receipt } }) },
  };
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
