import { looseMemberProblem } from '../core/twin-names.js';
import { InMemoryNonceStore } from '../identity/nonce-store.js';
import { RECEIPT_META } from './call-recorder.js';
import { ClientView } from './client-view.js';
import {
  type Classified,
  CONNECTION_CLOSED,
  classify,
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  METHOD_NOT_FOUND,
  REQUEST_MEMBERS,
} from './jsonrpc.js';
import { malformedCalls } from './malformed-calls.js';
import { DEFAULT_MESSAGE_LIMITS, exceedsLimits, type MessageLimits } from './message-limits.js';
import { imitatedMethod } from './method-names.js';
import { isPolicedRead, POLICED_READS } from './read-requests.js';
import { ReadyGate } from './ready-gate.js';
import { CLIENT_NOTIFICATION_PREFIX, CLIENT_REQUEST_PREFIX } from './recorded-requests.js';
import { DEFAULT_RESTART } from './restart-budget.js';
import { ServerTraffic } from './server-traffic.js';
import { isToolCall } from './session-pending.js';
import { SessionSupervision } from './session-supervision.js';
import { SessionToolCalls } from './session-tool-calls.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type DirectCall,
  type DirectOutcome,
  type SessionParts,
} from './session-types.js';
import { SessionWire } from './session-wire.js';
import { outcomeMessage, ToolCallFlow } from './tool-call-flow.js';
import type { MessageTransport } from './transport.js';
import { type UnreadMessage, unreadParams } from './unread-message.js';
import { UpstreamSupervisor } from './upstream-supervisor.js';
import { WaitingRequests } from './waiting-requests.js';

export { DEFAULT_RESTART, type RestartPolicy } from './restart-budget.js';
export {
  type BridgeEvent,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type DirectCall,
  type DirectOutcome,
  REQUEST_TIMEOUT,
  type SessionParts,
} from './session-types.js';

/**
 * One MCP client connected to one upstream server through the Airlock. A
 * pass-through: every request, notification and response goes both ways
 * untouched except for renumbered ids, `tools/list` (pinning and the tools
 * list), `tools/call` and the policed reads (`resources/read`,
 * `resources/subscribe`, `prompts/get`, `completion/complete`: the checks of
 * ToolCallFlow, then a receipt for every call, forwarded or not) and the server's own requests to the client (judged
 * by policy and recorded). Every message is held to the limits before anything
 * acts on it, in both directions, and a refused request of any method is
 * recorded; every forwarded request has a deadline.
 *
 * This file routes what the client sends (a handler per method); the parts
 * are apart: session-tool-calls.ts (tools/call), server-traffic.ts (what the
 * server sends), session-supervision.ts (restarts), session-wire.ts (what
 * they share: sending, forwarding, deadlines).
 */
export class BridgeSession {
  readonly #down: MessageTransport;
  readonly #client = new ClientView();
  readonly #ready = new ReadyGate();
  /** Client requests waiting for a (re)starting server: a cancel takes one back before it is checked. */
  readonly #waiting = new WaitingRequests<JsonRpcRequest>(this.#ready);
  readonly #limits: MessageLimits;
  readonly #wire: SessionWire;
  readonly #toolCalls: SessionToolCalls;
  readonly #traffic: ServerTraffic;
  readonly #supervision: SessionSupervision;
  readonly #upstream: UpstreamSupervisor;
  readonly #flow: ToolCallFlow;

  /** Client requests by method; anything else is forwarded as it is. */
  readonly #clientMethods = new Map<string, (request: JsonRpcRequest) => void>([
    ['tools/call', (request) => void this.#toolCalls.fromClient(request)],
    ['tools/list', (request) => this.#forward(request, 'tools-list')],
    ['tasks/result', (request) => this.#toolCalls.taskResult(request)],
    // A session reads and ends only its own tasks (SessionToolCalls: other task ids are refused).
    ['tasks/get', (request) => this.#toolCalls.taskRequest(request)],
    ['tasks/cancel', (request) => this.#toolCalls.taskRequest(request)],
    // Its answer lists only the tasks of this session (ServerTraffic).
    ['tasks/list', (request) => this.#forward(request, 'tasks-list')],
    // Reads of data through the server: the tool-call pipeline's checks and one receipt each.
    ...POLICED_READS.map(
      (method) => [method, (request: JsonRpcRequest) => void this.#toolCalls.fromClient(request)] as const,
    ),
  ]);

  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;

  constructor(parts: SessionParts, downstream: MessageTransport) {
    this.#down = downstream;
    this.#limits = parts.limits ?? DEFAULT_MESSAGE_LIMITS;
    this.#wire = new SessionWire(
      parts,
      downstream,
      this.#client,
      this.#ready,
      () => this.#upstream,
      () => this.#flow,
      parts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    );
    // A call to a tool not listed yet waits for the bridge's own listing (listed-arguments.ts).
    this.#toolCalls = new SessionToolCalls(this.#wire, () => this.#supervision.listTools());
    this.#traffic = new ServerTraffic(this.#wire, this.#toolCalls, this.#limits, () =>
      this.#supervision.refreshPins(),
    );
    this.#supervision = new SessionSupervision(this.#wire, this.#traffic, () => this.close());
    this.#upstream = new UpstreamSupervisor(
      parts.connector,
      parts.restart ?? DEFAULT_RESTART,
      this.#supervision.hooks(),
    );
    this.#flow = new ToolCallFlow({
      gate: parts.gate,
      recorder: parts.recorder,
      nonces: parts.nonces ?? new InMemoryNonceStore(),
      limits: this.#limits,
      ...(parts.agent === undefined ? {} : { agent: parts.agent }),
      client: this.#client,
      server: () => ({ identity: parts.connector.identity, link: this.#upstream.link }),
      onReceiptFailed: (callId, reason) => this.#wire.event({ type: 'receipt-failed', callId, reason }),
      ...(parts.refusals === undefined ? {} : { refusals: parts.refusals }),
    });
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Resolves once the session is over (client gone, or the server could not be restarted). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Starts the server first, so a server that cannot start fails here rather than mid-session. */
  async open(): Promise<void> {
    await this.#upstream.connect();
    this.#ready.open();
    this.#down.onmessage = (message, bytes) => this.#fromClient(message, bytes);
    this.#down.oninvalid = (id, code, reason, unread, answer) => {
      this.#wire.event({ type: 'invalid-message', from: 'client', reason });
      const send = answer ?? ((message: JsonRpcMessage) => this.#wire.sendDown(message));
      if (unread?.method === undefined) {
        send(errorResponse(id, code, reason));
        return;
      }
      this.#recordUnread(id, code, reason, { ...unread, method: unread.method }, send);
    };
    this.#down.onrefused = (raw, reason, busy) => {
      this.#wire.event({ type: 'invalid-message', from: 'client', reason });
      this.#recordMalformedCalls(raw, reason, busy);
    };
    this.#down.busy = () => this.#wire.busy();
    this.#down.onclose = () => void this.close();
    await this.#down.start();
  }

  async close(): Promise<void> {
    if (!this.#ready.close()) return this.#closed;
    await this.#toolCalls.abortAll();
    await this.#supervision.failPending(this.#ready.failure ?? 'the bridge session closed');
    // Every receipt under way (refusals included) is in the log before the session reports it is over.
    await this.#flow.drain();
    await Promise.allSettled([this.#upstream.stop(), this.#down.close()]);
    this.#resolveClosed();
    return this.#closed;
  }

  /** A tools/call made in-process (the gateway): see SessionToolCalls.direct. */
  call(input: DirectCall): Promise<DirectOutcome> {
    return this.#toolCalls.direct(input);
  }

  #fromClient(raw: unknown, bytes?: number): void {
    const message = classify(raw);
    if (message.kind === 'invalid') {
      // Answered under its id below, which frees an id once: counted first, so an id in flight stays so.
      if (message.id !== null) this.#wire.claimClientId(message.id);
      this.#wire.event({ type: 'invalid-message', from: 'client', reason: message.reason });
      this.#wire.sendDown(
        errorResponse(message.id, INVALID_REQUEST, `invalid JSON-RPC message: ${message.reason}`),
      );
      this.#recordMalformedCalls(raw, message.reason);
      return;
    }
    // Counted before any refusal, since every answer frees its id once (SessionWire.sendDown).
    if (message.kind === 'request' && !this.#wire.claimClientId(message.message.id, bytes)) {
      // Its answer, progress and cancellation could not say which of the two they mean (MCP:
      // an id is never reused in a session). Refused and recorded as a request over the limits.
      const id = JSON.stringify(message.message.id).slice(0, 80);
      this.#clientOverLimits(message, `the id ${id} is already used by a request in flight`);
      return;
    }
    const busy =
      message.kind === 'request' && this.#down.pause === undefined ? this.#wire.busy(true) : undefined;
    if (busy !== undefined) {
      // A client that cannot be held (each HTTP POST is its own, and so an in-memory pair behind
      // the --http front): what it sends past the bound is refused and recorded, rather than kept
      // in the bridge for a server that does not keep up.
      this.#clientOverLimits(message, busy);
      return;
    }
    const overLimits = exceedsLimits(raw, this.#limits);
    if (overLimits !== undefined) {
      this.#clientOverLimits(message, overLimits);
      return;
    }
    // The envelope's own names (`method`/`Method`): what the pipeline checks in params, here one level up.
    const loose =
      message.kind === 'request' || message.kind === 'notification'
        ? looseMemberProblem(raw, REQUEST_MEMBERS, 'the message', false)
        : undefined;
    if (loose !== undefined) {
      this.#clientOverLimits(message, loose);
      return;
    }
    switch (message.kind) {
      case 'request':
        if (!this.#wire.pending.claimProgress(progressToken(message.message), message.message.id)) {
          // Its progress and the first's could not be told apart (MCP: a token is unique among
          // the requests in flight). Refused and recorded as a request over the limits.
          const token = JSON.stringify(progressToken(message.message)).slice(0, 80);
          this.#clientOverLimits(
            message,
            `the progressToken ${token} is already used by a request in flight`,
          );
          return;
        }
        this.#waiting.hold(
          message.message.id,
          message.message,
          () => this.#clientRequest(message.message),
          (reason) => this.#wire.sendDown(errorResponse(message.message.id, CONNECTION_CLOSED, reason)),
        );
        return;
      case 'notification':
        this.#clientNotification(message.message);
        return;
      default:
        this.#traffic.clientAnswered(message.message);
    }
  }

  /**
   * A message refused before it could be parsed whole, whose method could be read: recorded as
   * `client-request:<method>` (`client-notification:<method>` when no id could be read either),
   * with the digest of the bytes that came in place of its params' (docs/receipts.md).
   */
  #recordUnread(
    id: JsonRpcId | null,
    code: number,
    reason: string,
    unread: UnreadMessage & { method: string },
    send: (message: JsonRpcMessage) => void,
  ): void {
    const prefix = id === null ? CLIENT_NOTIFICATION_PREFIX : CLIENT_REQUEST_PREFIX;
    void this.#flow
      .refuseRequest(`${prefix}${unread.method}`, unreadParams(unread), reason)
      .then((receipt) =>
        send(
          errorResponse(id, code, reason, receipt === undefined ? undefined : { [RECEIPT_META]: receipt }),
        ),
      );
  }

  /**
   * A message over the limits is refused where it stands, never forwarded.
   * Every refused request and notification is recorded: a tools/call as a
   * refused call of its tool, any other method as `client-request:<method>`
   * (`client-notification:<method>`), see docs/receipts.md.
   */
  #clientOverLimits(message: Exclude<Classified, { kind: 'invalid' }>, reason: string): void {
    this.#wire.event({ type: 'invalid-message', from: 'client', reason });
    switch (message.kind) {
      case 'request': {
        const { id, method, params } = message.message;
        if (method === 'tools/call') {
          void this.#flow
            .refuse(params, { effect: 'deny', reason })
            .then((answer) => this.#wire.sendDown(outcomeMessage(id, answer)));
          return;
        }
        void this.#flow
          .refuseRequest(`${CLIENT_REQUEST_PREFIX}${method}`, params, reason)
          .then((receipt) =>
            this.#wire.sendDown(
              errorResponse(
                id,
                INVALID_REQUEST,
                reason,
                receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
              ),
            ),
          );
        return;
      }
      case 'notification':
        if (message.message.method === 'tools/call')
          void this.#flow.refuseNotification(message.message.params);
        else
          void this.#flow.refuseRequest(
            `${CLIENT_NOTIFICATION_PREFIX}${message.message.method}`,
            message.message.params,
            reason,
          );
        return;
      default:
        if (message.message.id !== null) {
          this.#traffic.clientAnswered(
            errorResponse(message.message.id, INTERNAL_ERROR, `the client's response was refused: ${reason}`),
          );
        }
    }
  }

  /** Every tools/call inside a message refused as invalid JSON-RPC is a refused call with its receipt. */
  #recordMalformedCalls(raw: unknown, why: string, busy = false): void {
    const { calls, more } = malformedCalls(raw);
    const reason = `${busy ? 'refused' : 'invalid JSON-RPC message'}: ${why}; the tools/call in it was not forwarded`;
    for (const params of calls) void this.#flow.refuse(params, { effect: 'deny', reason });
    if (more > 0)
      void this.#flow.refuseRequest(
        `${CLIENT_REQUEST_PREFIX}tools/call`,
        { refusedCalls: more },
        `${reason}; ${more} more tools/call in the same message were refused and are recorded in this one receipt`,
      );
  }

  #clientRequest(request: JsonRpcRequest): void {
    const imitated = imitatedMethod(request.method);
    if (imitated !== undefined) {
      this.#refuseImitation(request, imitated);
      return;
    }
    if (request.method === 'initialize') this.#client.sawInitialize(request.params);
    const handler = this.#clientMethods.get(request.method);
    if (handler !== undefined) handler(request);
    else this.#forward(request, 'forward');
  }

  /**
   * A method name that reads as an MCP method under a loose reading but is not it: never
   * forwarded, and recorded (a would-be tools/call as a refused call of its tool).
   */
  #refuseImitation(request: JsonRpcRequest, imitated: string): void {
    const reason = `method ${JSON.stringify(request.method)} is not ${imitated}: a method name that differs from an MCP method only in case, spacing or Unicode form is refused`;
    this.#wire.event({ type: 'invalid-message', from: 'client', reason });
    if (imitated === 'tools/call') {
      void this.#flow
        .refuse(request.params, { effect: 'deny', reason })
        .then((answer) => this.#wire.sendDown(outcomeMessage(request.id, answer)));
      return;
    }
    void this.#flow
      .refuseRequest(`${CLIENT_REQUEST_PREFIX}${request.method}`, request.params, reason)
      .then((receipt) =>
        this.#wire.sendDown(
          errorResponse(
            request.id,
            METHOD_NOT_FOUND,
            reason,
            receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
          ),
        ),
      );
  }

  #forward(request: JsonRpcRequest, kind: 'forward' | 'tools-list' | 'tasks-list'): void {
    this.#wire.forward(request, { kind, clientId: request.id, method: request.method });
  }

  #clientNotification(notification: JsonRpcNotification): void {
    const imitated = imitatedMethod(notification.method);
    if (imitated !== undefined) {
      const reason = `method ${JSON.stringify(notification.method)} is not ${imitated}: refused, not forwarded`;
      this.#wire.event({ type: 'invalid-message', from: 'client', reason });
      if (imitated === 'tools/call') void this.#flow.refuseNotification(notification.params);
      else
        void this.#flow.refuseRequest(
          `${CLIENT_NOTIFICATION_PREFIX}${notification.method}`,
          notification.params,
          reason,
        );
      return;
    }
    if (notification.method === 'tools/call') {
      // A call with no id could never be answered with its receipt: it never reaches the server.
      this.#wire.event({
        type: 'invalid-message',
        from: 'client',
        reason: 'tools/call sent as a notification (no id) refused',
      });
      void this.#flow.refuseNotification(notification.params);
      return;
    }
    if (isPolicedRead(notification.method)) {
      // A read with no id would reach the server unchecked (a lenient server subscribes anyway).
      const reason = `${notification.method} sent as a notification (no id) is refused: it could not be checked and answered with its receipt`;
      this.#wire.event({ type: 'invalid-message', from: 'client', reason });
      void this.#flow.refuseRequest(
        `${CLIENT_NOTIFICATION_PREFIX}${notification.method}`,
        notification.params,
        reason,
      );
      return;
    }
    if (notification.method === 'notifications/cancelled') {
      this.#clientCancelled(notification);
      return;
    }
    if (notification.method === 'notifications/initialized') this.#client.sawInitialized();
    this.#ready.when(
      () => {
        this.#wire.sendUp(notification);
        // Pin the tool definitions before the client can call anything it has not listed.
        if (notification.method === 'notifications/initialized') this.#supervision.refreshPins();
      },
      () => undefined,
    );
  }

  #clientCancelled(notification: JsonRpcNotification): void {
    const requestId = notification.params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    // Cancelled, it is answered no more (MCP): its id is free again, and then its progress token.
    if (this.#wire.releaseClientId(requestId)) this.#wire.pending.forgetProgress(requestId);
    const waiting = this.#waiting.withdraw(requestId);
    if (waiting !== undefined) {
      // Cancelled while it waited for a restarting server: never checked, never sent, not answered (MCP).
      if (waiting.method === 'tools/call' || isPolicedRead(waiting.method))
        void this.#flow.cancelUnchecked(waiting.params, waiting.method);
      return;
    }
    if (this.#toolCalls.cancelUnsent(requestId)) return;
    const upId = this.#wire.pending.upIdOf(requestId);
    if (upId === undefined) return;
    const pending = this.#wire.pending.takeUp(upId);
    if (pending !== undefined && pending.kind !== 'internal')
      this.#wire.pending.forgetClient(pending.clientId);
    // It was sent: the server may have run it, whatever it answers now (its answer is dropped).
    if (isToolCall(pending))
      void this.#flow.finish({ call: pending.call, outcome: 'cancelled', forwarded: true });
    this.#wire.sendUp({ ...notification, params: { ...notification.params, requestId: upId } });
  }
}

/** The progress token a request asks its progress under (`params._meta.progressToken`), if any. */
function progressToken(request: JsonRpcRequest): unknown {
  const meta = request.params?._meta;
  return typeof meta === 'object' && meta !== null
    ? (meta as { progressToken?: unknown }).progressToken
    : undefined;
}
