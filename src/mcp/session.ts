import { InMemoryNonceStore, type NonceStore } from '../identity/nonce-store.js';
import type { GateParts, PriorChecks } from './call-gate.js';
import { type ActiveCall, type CallRecorder, type FinishedCall, RECEIPT_META } from './call-recorder.js';
import { checkCallShape } from './call-shape.js';
import { ClientView } from './client-view.js';
import {
  type Classified,
  CONNECTION_CLOSED,
  classify,
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  idKey,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResult,
} from './jsonrpc.js';
import { DEFAULT_MESSAGE_LIMITS, exceedsLimits, type MessageLimits } from './message-limits.js';
import type { CallChecks } from './record.js';
import { DEFAULT_RESTART, type RestartPolicy } from './restart-budget.js';
import { decideServerRequest, SERVER_REQUEST_PREFIX } from './server-requests.js';
import { type Outcome, outcomeMessage, ToolCallFlow } from './tool-call-flow.js';
import { processToolList } from './tool-list.js';
import type { MessageTransport } from './transport.js';
import type { UpstreamConnector } from './upstream.js';
import { type SupervisorHooks, UpstreamSupervisor } from './upstream-supervisor.js';

export { DEFAULT_RESTART, type RestartPolicy } from './restart-budget.js';

/** How long a forwarded request may wait for the server before its caller gets an error (5 minutes). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/** JSON-RPC code of a request the bridge gave up waiting for (MCP's request-timeout code). */
export const REQUEST_TIMEOUT = -32001;

/** Things worth a line in the bridge's log; never part of the protocol. */
export type BridgeEvent =
  | { readonly type: 'upstream-ended'; readonly reason: string }
  | { readonly type: 'upstream-restarted'; readonly attempt: number }
  | { readonly type: 'upstream-restart-failed'; readonly attempt: number; readonly reason: string }
  | { readonly type: 'upstream-gave-up'; readonly reason: string }
  | { readonly type: 'invalid-message'; readonly from: 'client' | 'server'; readonly reason: string }
  | { readonly type: 'receipt-failed'; readonly callId: string; readonly reason: string }
  | { readonly type: 'pin-refresh-failed'; readonly reason: string }
  | { readonly type: 'request-timeout'; readonly method: string }
  | { readonly type: 'send-failed'; readonly to: 'client' | 'server'; readonly reason: string };

export interface SessionParts {
  readonly connector: UpstreamConnector;
  readonly gate: GateParts;
  readonly recorder: CallRecorder;
  /** A fixed principal (the bridge runs on behalf of one agent); else each call's own. */
  readonly agent?: string;
  readonly restart?: RestartPolicy;
  readonly onEvent?: (event: BridgeEvent) => void;
  /** Nonces of signed agent requests; the home's shared store in `oacp mcp run` (in memory by default). */
  readonly nonces?: NonceStore;
  readonly limits?: MessageLimits;
  /** Deadline of every forwarded request, in ms (DEFAULT_REQUEST_TIMEOUT_MS by default). */
  readonly requestTimeoutMs?: number;
}

type UpPending =
  | { readonly kind: 'forward'; readonly clientId: JsonRpcId; readonly method: string }
  | { readonly kind: 'tools-list'; readonly clientId: JsonRpcId; readonly method: string }
  | {
      readonly kind: 'tool-call' | 'task-result';
      readonly clientId: JsonRpcId;
      readonly method: string;
      readonly call: ActiveCall;
      /** Where the answer goes when the caller is in-process (BridgeSession.call), not the client. */
      readonly reply?: (outcome: Outcome) => void;
    }
  | { readonly kind: 'internal'; settle(message: JsonRpcResult | JsonRpcError): void };

type ClientPending = Exclude<UpPending, { kind: 'internal' }>;

interface DownPending {
  readonly serverId: JsonRpcId;
  readonly generation: number;
  /** The receipt-bearing record of a policed server request (sampling, roots, elicitation). */
  readonly call?: ActiveCall;
}

interface Waiting {
  run(): void;
  refuse(reason: string): void;
}

const REPLAY_TIMEOUT_MS = 30_000;

/**
 * One MCP client connected to one upstream server through the Airlock. A
 * pass-through: every request, notification and response goes both ways
 * untouched except for renumbered ids, `tools/list` (pinning and the tools
 * list), `tools/call` (the checks of ToolCallFlow, then a receipt for every
 * call, forwarded or not) and the server's own requests to the client (judged
 * by policy and recorded). Every message is held to the limits before anything
 * acts on it, in both directions; every forwarded request has a deadline.
 */
export class BridgeSession {
  readonly #parts: SessionParts;
  readonly #down: MessageTransport;
  readonly #client = new ClientView();
  readonly #limits: MessageLimits;
  readonly #timeoutMs: number;
  readonly #upstream: UpstreamSupervisor;
  readonly #flow: ToolCallFlow;

  #ready = false;
  #closing = false;
  #failure: string | undefined;
  #waiting: Waiting[] = [];

  #nextUp = 1;
  readonly #toUp = new Map<number, UpPending>();
  readonly #deadlines = new Map<number, NodeJS.Timeout>();
  readonly #upByClient = new Map<string, number>();
  #nextDown = 1;
  readonly #toDown = new Map<number, DownPending>();
  readonly #downByServer = new Map<string, number>();
  readonly #progress = new Map<string, JsonRpcId>();
  readonly #gating = new Map<string, AbortController>();
  /** Task-augmented calls by task id: their final result (tasks/result) gets a receipt of its own. */
  readonly #tasks = new Map<string, ActiveCall>();
  #pinRefreshRunning = false;
  #pinRefreshAgain = false;

  /** Client requests by method; anything else is forwarded as it is. */
  readonly #clientMethods = new Map<string, (request: JsonRpcRequest) => void>([
    ['tools/call', (request) => void this.#toolCall(request)],
    ['tools/list', (request) => this.#forward(request, this.#pendingFor(request, 'tools-list'))],
    ['tasks/result', (request) => this.#taskResult(request)],
  ]);

  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;

  constructor(parts: SessionParts, downstream: MessageTransport) {
    this.#parts = parts;
    this.#down = downstream;
    this.#limits = parts.limits ?? DEFAULT_MESSAGE_LIMITS;
    this.#timeoutMs = parts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#upstream = new UpstreamSupervisor(
      parts.connector,
      parts.restart ?? DEFAULT_RESTART,
      this.#supervisorHooks(),
    );
    this.#flow = new ToolCallFlow({
      gate: parts.gate,
      recorder: parts.recorder,
      nonces: parts.nonces ?? new InMemoryNonceStore(),
      ...(parts.agent === undefined ? {} : { agent: parts.agent }),
      client: this.#client,
      server: () => ({ identity: parts.connector.identity, link: this.#upstream.link }),
      onReceiptFailed: (callId, reason) => this.#event({ type: 'receipt-failed', callId, reason }),
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
    this.#ready = true;
    this.#down.onmessage = (message) => this.#fromClient(message);
    this.#down.oninvalid = (id, code, reason) => {
      this.#event({ type: 'invalid-message', from: 'client', reason });
      this.#sendDown(errorResponse(id, code, reason));
    };
    this.#down.onclose = () => void this.close();
    await this.#down.start();
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#closed;
    this.#closing = true;
    this.#ready = false;
    for (const controller of this.#gating.values()) controller.abort(new Error('session closed'));
    const why = this.#failure ?? 'the bridge session closed';
    this.#refuseWaiting(why);
    await this.#failUpstreamPending(why);
    await Promise.allSettled([this.#upstream.stop(), this.#down.close()]);
    this.#resolveClosed();
    return this.#closed;
  }

  // ---- client -> server -------------------------------------------------------------

  #fromClient(raw: unknown): void {
    const message = classify(raw);
    if (message.kind === 'invalid') {
      this.#event({ type: 'invalid-message', from: 'client', reason: message.reason });
      this.#sendDown(
        errorResponse(message.id, INVALID_REQUEST, `invalid JSON-RPC message: ${message.reason}`),
      );
      return;
    }
    const overLimits = exceedsLimits(raw, this.#limits);
    if (overLimits !== undefined) {
      this.#clientOverLimits(message, overLimits);
      return;
    }
    switch (message.kind) {
      case 'request':
        this.#whenReady(
          () => this.#clientRequest(message.message),
          (reason) => this.#sendDown(errorResponse(message.message.id, CONNECTION_CLOSED, reason)),
        );
        return;
      case 'notification':
        this.#clientNotification(message.message);
        return;
      default:
        this.#clientResponse(message.message);
    }
  }

  /** A message over the limits is refused where it stands; a tools/call among them still gets its receipt. */
  #clientOverLimits(message: Exclude<Classified, { kind: 'invalid' }>, reason: string): void {
    this.#event({ type: 'invalid-message', from: 'client', reason });
    switch (message.kind) {
      case 'request':
        if (message.message.method === 'tools/call') {
          void this.#flow
            .refuse(message.message.params, { effect: 'deny', reason })
            .then((answer) => this.#answerClient(message.message.id, answer));
          return;
        }
        this.#sendDown(errorResponse(message.message.id, INVALID_REQUEST, reason));
        return;
      case 'notification':
        if (message.message.method === 'tools/call')
          void this.#flow.refuseNotification(message.message.params);
        return;
      default:
        if (message.message.id !== null) {
          this.#clientResponse(
            errorResponse(message.message.id, INTERNAL_ERROR, `the client's response was refused: ${reason}`),
          );
        }
    }
  }

  #clientRequest(request: JsonRpcRequest): void {
    if (request.method === 'initialize') this.#client.sawInitialize(request.params);
    const handler = this.#clientMethods.get(request.method);
    if (handler !== undefined) handler(request);
    else this.#forward(request, this.#pendingFor(request, 'forward'));
  }

  #pendingFor(request: JsonRpcRequest, kind: 'forward' | 'tools-list'): ClientPending {
    return { kind, clientId: request.id, method: request.method };
  }

  #taskResult(request: JsonRpcRequest): void {
    const taskId = request.params?.taskId;
    const task = typeof taskId === 'string' ? this.#tasks.get(taskId) : undefined;
    this.#forward(
      request,
      task === undefined
        ? this.#pendingFor(request, 'forward')
        : { kind: 'task-result', clientId: request.id, method: request.method, call: task },
    );
  }

  #clientNotification(notification: JsonRpcNotification): void {
    if (notification.method === 'tools/call') {
      // A call with no id could never be answered with its receipt: it never reaches the server.
      this.#event({
        type: 'invalid-message',
        from: 'client',
        reason: 'tools/call sent as a notification (no id) refused',
      });
      void this.#flow.refuseNotification(notification.params);
      return;
    }
    if (notification.method === 'notifications/cancelled') {
      this.#clientCancelled(notification);
      return;
    }
    if (notification.method === 'notifications/initialized') this.#client.sawInitialized();
    this.#whenReady(
      () => {
        this.#sendUp(notification);
        // Pin the tool definitions before the client can call anything it has not listed.
        if (notification.method === 'notifications/initialized') void this.#refreshPins();
      },
      () => undefined,
    );
  }

  #clientCancelled(notification: JsonRpcNotification): void {
    const requestId = notification.params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const gating = this.#gating.get(idKey(requestId));
    if (gating !== undefined) {
      gating.abort(new Error('cancelled by the client'));
      return;
    }
    const upId = this.#upByClient.get(idKey(requestId));
    if (upId === undefined) return;
    const pending = this.#takeUp(upId);
    if (pending !== undefined && pending.kind !== 'internal') this.#forgetClient(pending.clientId);
    if (pending?.kind === 'tool-call' || pending?.kind === 'task-result') {
      void this.#flow.finish({ call: pending.call, outcome: 'cancelled' });
    }
    this.#sendUp({ ...notification, params: { ...notification.params, requestId: upId } });
  }

  #clientResponse(response: JsonRpcResult | JsonRpcError): void {
    if (response.id === null || typeof response.id !== 'number') return;
    const pending = this.#toDown.get(response.id);
    if (pending === undefined) return;
    this.#toDown.delete(response.id);
    this.#downByServer.delete(idKey(pending.serverId));
    // A reply meant for a server that has since been restarted has nobody to go to.
    if (pending.generation !== this.#upstream.generation) return;
    if (pending.call === undefined) {
      this.#sendUp({ ...response, id: pending.serverId });
      return;
    }
    void this.#flow.finishServerRequest(pending.call, response).then((answer) => {
      if (pending.generation === this.#upstream.generation)
        this.#sendUp(outcomeMessage(pending.serverId, answer));
    });
  }

  #forward(request: JsonRpcRequest, pending: ClientPending): void {
    const id = this.#nextUp++;
    this.#toUp.set(id, pending);
    this.#upByClient.set(idKey(request.id), id);
    const token = (request.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (typeof token === 'string' || typeof token === 'number') this.#progress.set(idKey(token), request.id);
    const deadline = setTimeout(() => this.#timedOut(id), this.#timeoutMs);
    deadline.unref();
    this.#deadlines.set(id, deadline);
    this.#sendUp({ ...request, id }, (reason) =>
      this.#serverResponse(errorResponse(id, INTERNAL_ERROR, `could not forward the request: ${reason}`)),
    );
  }

  /** The server did not answer in time: its caller gets an error now, and a tool call its receipt. */
  #timedOut(id: number): void {
    const pending = this.#takeUp(id);
    if (pending === undefined || pending.kind === 'internal') return;
    this.#forgetClient(pending.clientId);
    this.#event({ type: 'request-timeout', method: pending.method });
    this.#sendUp({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'the bridge request deadline passed' },
    });
    const message = `the server did not answer ${pending.method} within ${this.#timeoutMs / 1000} s (the bridge's request deadline)`;
    if (pending.kind === 'tool-call' || pending.kind === 'task-result') {
      void this.#flow
        .finish({ call: pending.call, outcome: 'timeout', error: { code: REQUEST_TIMEOUT, message } })
        .then((receipt) => this.#replyTo(pending, failure(REQUEST_TIMEOUT, message, receipt)));
      return;
    }
    this.#sendDown(errorResponse(pending.clientId, REQUEST_TIMEOUT, message));
  }

  // ---- tools/call ---------------------------------------------------------------------

  async #toolCall(request: JsonRpcRequest): Promise<void> {
    const shape = checkCallShape(request.params);
    if (!shape.ok) {
      this.#answerClient(request.id, await this.#flow.refuse(request.params, shape.decision));
      return;
    }
    const controller = new AbortController();
    const key = idKey(request.id);
    this.#gating.set(key, controller);
    const decided = await this.#flow.decide(shape.call, request.params, controller.signal);
    this.#gating.delete(key);
    if (controller.signal.aborted) {
      // The client cancelled while we waited (for approval); MCP says not to answer a cancelled request.
      await this.#flow.finish({ call: decided.call, outcome: 'cancelled' });
      return;
    }
    if (decided.effect === 'deny') {
      this.#answerClient(request.id, await this.#flow.finishDenied(decided.call));
      return;
    }
    this.#whenReady(
      () => {
        // Checked again at the last moment: the log may have failed while the call awaited approval.
        const slot = this.#flow.reserve();
        if (slot !== undefined) {
          void this.#flow
            .finishDenied({ ...decided.call, decision: slot })
            .then((answer) => this.#answerClient(request.id, answer));
          return;
        }
        this.#forward(
          { ...request, params: decided.forwardedParams },
          { kind: 'tool-call', clientId: request.id, method: request.method, call: decided.call },
        );
      },
      (reason) =>
        void this.#flow
          .finish({
            call: decided.call,
            outcome: 'server-gone',
            error: { code: CONNECTION_CLOSED, message: reason },
          })
          .then((receipt) =>
            this.#sendDown(
              errorResponse(
                request.id,
                CONNECTION_CLOSED,
                reason,
                receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
              ),
            ),
          ),
    );
  }

  #answerClient(id: JsonRpcId, answer: Outcome): void {
    this.#sendDown(outcomeMessage(id, answer));
  }

  async #toolCallAnswered(
    pending: Extract<UpPending, { kind: 'tool-call' | 'task-result' }>,
    response: JsonRpcResult | JsonRpcError,
  ): Promise<void> {
    const task =
      'result' in response ? (response.result.task as { taskId?: unknown } | undefined) : undefined;
    if (pending.kind === 'tool-call' && typeof task?.taskId === 'string')
      this.#tasks.set(task.taskId, pending.call);
    if (pending.kind === 'task-result' && 'result' in response) {
      const related = (response.result._meta as Record<string, { taskId?: unknown }> | undefined)?.[
        'io.modelcontextprotocol/related-task'
      ];
      if (typeof related?.taskId === 'string') this.#tasks.delete(related.taskId);
    }
    const finished: FinishedCall =
      'result' in response
        ? { call: pending.call, outcome: 'result', result: response.result }
        : { call: pending.call, outcome: 'error', error: response.error };
    this.#replyTo(pending, await this.#flow.answer(finished, response));
  }

  #replyTo(pending: Extract<UpPending, { kind: 'tool-call' | 'task-result' }>, outcome: Outcome): void {
    if (pending.reply !== undefined) pending.reply(outcome);
    else this.#answerClient(pending.clientId, outcome);
  }

  /**
   * A tools/call from an in-process caller that has already authenticated its
   * agent and made its own checks (the gateway): the same pipeline as a
   * client's call, its checks joined into the one decision, one receipt; no
   * MCP client, no signed request, no second verification.
   */
  async call(input: DirectCall): Promise<DirectOutcome> {
    const params = { name: input.tool, arguments: input.arguments };
    const shape = checkCallShape(params);
    if (!shape.ok) {
      const call = this.#flow.refusedCall(params, shape.decision);
      return { outcome: await this.#flow.finishDenied(call), decision: call.decision, checks: call.checks };
    }
    const signal = input.signal ?? new AbortController().signal;
    const decided = await this.#flow.decide(shape.call, params, signal, {
      agent: input.agent,
      ...(input.prior === undefined ? {} : { prior: input.prior }),
    });
    const { decision, checks } = decided.call;
    if (decided.effect === 'deny') {
      return { outcome: await this.#flow.finishDenied(decided.call), decision, checks };
    }
    const outcome = await new Promise<Outcome>((resolve) => {
      this.#whenReady(
        () => {
          const slot = this.#flow.reserve();
          if (slot !== undefined) {
            void this.#flow.finishDenied({ ...decided.call, decision: slot }).then(resolve);
            return;
          }
          this.#forward(
            {
              jsonrpc: '2.0',
              id: `oacp-direct:${decided.call.callId}`,
              method: 'tools/call',
              params: decided.forwardedParams,
            },
            {
              kind: 'tool-call',
              clientId: `oacp-direct:${decided.call.callId}`,
              method: 'tools/call',
              call: decided.call,
              reply: resolve,
            },
          );
        },
        (reason) =>
          void this.#flow
            .finish({
              call: decided.call,
              outcome: 'server-gone',
              error: { code: CONNECTION_CLOSED, message: reason },
            })
            .then((receipt) => resolve(failure(CONNECTION_CLOSED, reason, receipt))),
      );
    });
    return { outcome, decision, checks };
  }

  // ---- server -> client ---------------------------------------------------------------

  #fromServer(raw: unknown, generation: number): void {
    if (generation !== this.#upstream.generation) return;
    const message = classify(raw);
    if (message.kind === 'invalid') {
      this.#serverInvalid(message.id, message.reason);
      return;
    }
    const overLimits = exceedsLimits(raw, this.#limits);
    if (overLimits !== undefined) {
      this.#serverOverLimits(message, overLimits, generation);
      return;
    }
    switch (message.kind) {
      case 'request':
        void this.#serverRequest(message.message, generation);
        return;
      case 'notification':
        this.#serverNotification(message.message);
        return;
      default:
        this.#upstream.alive();
        this.#serverResponse(message.message);
    }
  }

  #serverOverLimits(
    message: Exclude<Classified, { kind: 'invalid' }>,
    reason: string,
    generation: number,
  ): void {
    this.#event({ type: 'invalid-message', from: 'server', reason });
    switch (message.kind) {
      case 'request':
        void this.#serverRequest(message.message, generation, reason);
        return;
      case 'notification':
        return;
      default:
        // The result is withheld; a tool call's receipt records the refusal as its error.
        if (typeof message.message.id === 'number') {
          this.#serverResponse(
            errorResponse(message.message.id, INTERNAL_ERROR, `the server's response was refused: ${reason}`),
          );
        }
    }
  }

  #serverInvalid(id: JsonRpcId | null, reason: string): void {
    this.#event({ type: 'invalid-message', from: 'server', reason });
    if (typeof id === 'number' && this.#toUp.has(id)) {
      // A malformed (or oversized) answer to one of our requests: its caller gets an error for it.
      this.#serverResponse(
        errorResponse(id, INTERNAL_ERROR, `the server sent a malformed response: ${reason}`),
      );
      return;
    }
    this.#sendUp(errorResponse(id, INVALID_REQUEST, `invalid JSON-RPC message: ${reason}`));
  }

  /** The server asks the client something: judged by policy, recorded, then forwarded or refused. */
  async #serverRequest(request: JsonRpcRequest, generation: number, overLimits?: string): Promise<void> {
    const verdict =
      overLimits === undefined
        ? decideServerRequest(this.#parts.gate.policy, {
            agent: this.#flow.sessionAgent(),
            server: this.#parts.connector.identity.name,
            method: request.method,
          })
        : {
            decision: { effect: 'deny' as const, reason: overLimits },
            checks: { shape: { effect: 'deny' as const, reason: overLimits } },
            recorded: true,
          };
    let call: ActiveCall | undefined;
    if (verdict.recorded) {
      call = this.#flow.serverRequestCall(
        `${SERVER_REQUEST_PREFIX}${request.method}`,
        request.params ?? {},
        verdict,
      );
      const slot = verdict.decision.effect === 'allow' ? this.#flow.reserve() : undefined;
      if (verdict.decision.effect === 'deny' || slot !== undefined) {
        const denied = slot === undefined ? call : { ...call, decision: slot };
        const receipt = await this.#flow.finish({ call: denied, outcome: 'denied' });
        if (generation !== this.#upstream.generation) return;
        this.#sendUp(
          errorResponse(
            request.id,
            INVALID_REQUEST,
            `OACP refused ${request.method}: ${denied.decision.reason}`,
            receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
          ),
        );
        return;
      }
    }
    if (generation !== this.#upstream.generation || this.#closing) return;
    const id = this.#nextDown++;
    this.#toDown.set(id, { serverId: request.id, generation, ...(call === undefined ? {} : { call }) });
    this.#downByServer.set(idKey(request.id), id);
    this.#sendDown({ ...request, id }, this.#related(undefined));
  }

  #serverNotification(notification: JsonRpcNotification): void {
    const params = notification.params;
    if (notification.method === 'notifications/cancelled') {
      const requestId = params?.requestId;
      if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
      const downId = this.#downByServer.get(idKey(requestId));
      if (downId === undefined) return;
      this.#downByServer.delete(idKey(requestId));
      this.#toDown.delete(downId);
      this.#sendDown({ ...notification, params: { ...params, requestId: downId } }, this.#related(undefined));
      return;
    }
    if (notification.method === 'notifications/tools/list_changed') void this.#refreshPins();
    const token = params?.progressToken;
    const related =
      typeof token === 'string' || typeof token === 'number' ? this.#progress.get(idKey(token)) : undefined;
    this.#sendDown(notification, this.#related(related));
  }

  #serverResponse(response: JsonRpcResult | JsonRpcError): void {
    if (typeof response.id !== 'number') return;
    const pending = this.#takeUp(response.id);
    if (pending === undefined) return;
    if (pending.kind === 'internal') {
      pending.settle(response);
      return;
    }
    this.#forgetClient(pending.clientId);
    if (pending.kind === 'tool-call' || pending.kind === 'task-result') {
      void this.#toolCallAnswered(pending, response);
      return;
    }
    if (pending.kind === 'tools-list' && 'result' in response) {
      const result = processToolList(response.result, this.#parts.connector.identity.name, this.#parts.gate);
      this.#sendDown({ jsonrpc: '2.0', id: pending.clientId, result });
      return;
    }
    this.#sendDown({ ...response, id: pending.clientId });
  }

  #takeUp(id: number): UpPending | undefined {
    const pending = this.#toUp.get(id);
    this.#toUp.delete(id);
    const deadline = this.#deadlines.get(id);
    if (deadline !== undefined) clearTimeout(deadline);
    this.#deadlines.delete(id);
    return pending;
  }

  #forgetClient(clientId: JsonRpcId): void {
    this.#upByClient.delete(idKey(clientId));
    for (const [token, id] of this.#progress) {
      if (id === clientId) this.#progress.delete(token);
    }
  }

  /**
   * Over Streamable HTTP a server-to-client message must ride on the stream of
   * a request still open; stdio carries no such link, so the bridge picks the
   * request a progress token names, else the newest one in flight.
   */
  #related(clientId: JsonRpcId | undefined): { relatedRequestId?: JsonRpcId } | undefined {
    if (clientId !== undefined) return { relatedRequestId: clientId };
    let newest: JsonRpcId | undefined;
    for (const pending of this.#toUp.values()) {
      if (pending.kind !== 'internal') newest = pending.clientId;
    }
    return newest === undefined ? undefined : { relatedRequestId: newest };
  }

  // ---- requests the bridge itself makes ------------------------------------------------

  #askServer(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextUp++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#toUp.delete(id);
        reject(new Error(`the server did not answer ${method} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      timer.unref();
      this.#toUp.set(id, {
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
      this.#sendUp({ jsonrpc: '2.0', id, method, params }, (reason) =>
        this.#serverResponse(errorResponse(id, INTERNAL_ERROR, reason)),
      );
    });
  }

  /** Lists the server's tools itself so every definition is pinned before it can be called. */
  async #refreshPins(): Promise<void> {
    if (this.#parts.gate.pins === undefined || !this.#ready) return;
    // One listing at a time, plus at most one more for changes announced meanwhile:
    // a server spamming list_changed cannot make the bridge flood it with tools/list.
    if (this.#pinRefreshRunning) {
      this.#pinRefreshAgain = true;
      return;
    }
    this.#pinRefreshRunning = true;
    this.#pinRefreshAgain = false;
    try {
      let cursor: unknown;
      for (let page = 0; page < 1000; page++) {
        const result = await this.#askServer(
          'tools/list',
          cursor === undefined ? {} : { cursor },
          this.#timeoutMs,
        );
        processToolList(result, this.#parts.connector.identity.name, this.#parts.gate);
        cursor = result.nextCursor;
        if (typeof cursor !== 'string') break;
      }
    } catch (error) {
      // Calls are still checked; tools left unpinned are named as such in their receipts.
      if (!this.#closing) this.#event({ type: 'pin-refresh-failed', reason: describe(error) });
    } finally {
      this.#pinRefreshRunning = false;
      if (this.#pinRefreshAgain) void this.#refreshPins();
    }
  }

  // ---- the upstream link (UpstreamSupervisor keeps it running) -------------------------

  #supervisorHooks(): SupervisorHooks {
    return {
      message: (message) => this.#fromServer(message, this.#upstream.generation),
      invalid: (id, reason) => this.#serverInvalid(id, reason),
      ended: async (reason) => {
        this.#ready = false;
        this.#event({ type: 'upstream-ended', reason });
        await this.#failUpstreamPending(`upstream server is gone (${reason}); the bridge is restarting it`);
      },
      prepare: () => this.#replayInitialize(),
      restarted: (attempt) => {
        this.#ready = true;
        this.#event({ type: 'upstream-restarted', attempt });
        this.#flushWaiting();
        void this.#refreshPins();
      },
      restartFailed: (attempt, reason) => {
        this.#ready = false;
        this.#event({ type: 'upstream-restart-failed', attempt, reason });
      },
      gaveUp: async (reason, attempts) => {
        this.#failure = `the upstream server could not be kept running (${attempts} restarts failed; last: ${reason})`;
        this.#event({ type: 'upstream-gave-up', reason });
        await this.close();
      },
      closing: () => this.#closing,
    };
  }

  /** A restarted server knows nothing of the session: it gets the client's initialize again. */
  async #replayInitialize(): Promise<void> {
    const params = this.#client.initializeParams;
    if (params === undefined) return;
    await this.#askServer('initialize', params, REPLAY_TIMEOUT_MS);
    if (this.#client.initialized) this.#sendUp({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  async #failUpstreamPending(reason: string): Promise<void> {
    const pending = [...this.#toUp.keys()].map((id) => [id, this.#takeUp(id)] as const);
    this.#upByClient.clear();
    this.#progress.clear();
    const finishing: Promise<unknown>[] = [];
    for (const [id, entry] of pending) {
      if (entry === undefined) continue;
      if (entry.kind === 'internal') {
        entry.settle(errorResponse(id, CONNECTION_CLOSED, reason));
        continue;
      }
      if (entry.kind === 'tool-call' || entry.kind === 'task-result') {
        // The receipt is written before the client hears of the failure: no call goes unrecorded.
        finishing.push(
          this.#flow
            .finish({
              call: entry.call,
              outcome: 'server-gone',
              error: { code: CONNECTION_CLOSED, message: reason },
            })
            .then((receipt) =>
              this.#sendDown(
                errorResponse(
                  entry.clientId,
                  CONNECTION_CLOSED,
                  reason,
                  receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
                ),
              ),
            ),
        );
        continue;
      }
      this.#sendDown(errorResponse(entry.clientId, CONNECTION_CLOSED, reason));
    }
    this.#toDown.clear();
    this.#downByServer.clear();
    await Promise.allSettled(finishing);
  }

  #whenReady(run: () => void, refuse: (reason: string) => void): void {
    if (this.#ready) run();
    else if (this.#closing) refuse(this.#failure ?? 'the bridge session closed');
    else this.#waiting.push({ run, refuse });
  }

  #flushWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const entry of waiting) entry.run();
  }

  #refuseWaiting(reason: string): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const entry of waiting) entry.refuse(reason);
  }

  /** Sends on the current link; a message that cannot be sent is reported, and `failed` told why. */
  #sendUp(message: JsonRpcMessage, failed?: (reason: string) => void): void {
    const link = this.#upstream.link;
    if (link === undefined) return;
    link.transport.send(message).catch((error: unknown) => {
      this.#event({ type: 'send-failed', to: 'server', reason: describe(error) });
      failed?.(describe(error));
    });
  }

  /** Sends to the client; a response that cannot be sent becomes an error response to the same id. */
  #sendDown(message: JsonRpcMessage, options?: { relatedRequestId?: JsonRpcId }): void {
    this.#down.send(message, options).catch((error: unknown) => {
      this.#event({ type: 'send-failed', to: 'client', reason: describe(error) });
      if (
        !('method' in message) &&
        message.id !== null &&
        !('error' in message && message.error.code === INTERNAL_ERROR)
      ) {
        this.#sendDown(
          errorResponse(message.id, INTERNAL_ERROR, `the answer could not be sent: ${describe(error)}`),
        );
      }
    });
  }

  #event(event: BridgeEvent): void {
    this.#parts.onEvent?.(event);
  }
}

/** A tools/call made in-process (see BridgeSession.call). */
export interface DirectCall {
  readonly tool: string;
  readonly arguments: unknown;
  /** The principal, already authenticated by the caller. */
  readonly agent: string;
  readonly prior?: PriorChecks;
  readonly signal?: AbortSignal;
}

export interface DirectOutcome {
  /** What a client would have been answered: the result (a denial is an MCP tool error) or an error, with the receipt in `_meta` / `error.data`. */
  readonly outcome: Outcome;
  readonly decision: { readonly effect: 'allow' | 'deny'; readonly reason: string };
  readonly checks: CallChecks;
}

function failure(code: number, message: string, receipt: Record<string, unknown> | undefined): Outcome {
  return {
    error: { code, message, ...(receipt === undefined ? {} : { data: { [RECEIPT_META]: receipt } }) },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
