import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import { InMemoryNonceStore } from '../identity/nonce-store.js';
import { admitCall, type GateParts } from './call-gate.js';
import { type ActiveCall, type CallRecorder, denialResult, type FinishedCall } from './call-recorder.js';
import { ClientView } from './client-view.js';
import {
  CONNECTION_CLOSED,
  classify,
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  idKey,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResult,
} from './jsonrpc.js';
import { resolvePrincipal } from './principal.js';
import { processToolList } from './tool-list.js';
import type { MessageTransport } from './transport.js';
import type { UpstreamConnector, UpstreamLink } from './upstream.js';

/** Backoff for restarting a server that went away. */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failed starts before the session gives up and closes. */
  readonly maxAttempts: number;
}

export const DEFAULT_RESTART: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: 8 };

/** Things worth a line in the bridge's log; never part of the protocol. */
export type BridgeEvent =
  | { readonly type: 'upstream-ended'; readonly reason: string }
  | { readonly type: 'upstream-restarted'; readonly attempt: number }
  | { readonly type: 'upstream-restart-failed'; readonly attempt: number; readonly reason: string }
  | { readonly type: 'upstream-gave-up'; readonly reason: string }
  | { readonly type: 'invalid-message'; readonly from: 'client' | 'server'; readonly reason: string }
  | { readonly type: 'receipt-failed'; readonly callId: string; readonly reason: string };

export interface SessionParts {
  readonly connector: UpstreamConnector;
  readonly gate: GateParts;
  readonly recorder: CallRecorder;
  /** A fixed principal (the bridge runs on behalf of one agent); else each call's own. */
  readonly agent?: string;
  readonly restart?: RestartPolicy;
  readonly onEvent?: (event: BridgeEvent) => void;
}

type UpPending =
  | { readonly kind: 'forward'; readonly clientId: JsonRpcId; readonly method: string }
  | { readonly kind: 'tools-list'; readonly clientId: JsonRpcId }
  | { readonly kind: 'tool-call'; readonly clientId: JsonRpcId; readonly call: ActiveCall }
  | { readonly kind: 'task-result'; readonly clientId: JsonRpcId; readonly call: ActiveCall }
  | { readonly kind: 'internal'; settle(message: JsonRpcResult | JsonRpcError): void };

type DownPending =
  | { readonly kind: 'forward'; readonly serverId: JsonRpcId; readonly generation: number }
  | { readonly kind: 'internal'; settle(message: JsonRpcResult | JsonRpcError): void };

const RECEIPT_META = 'oacp/receipt';
const REPLAY_TIMEOUT_MS = 30_000;

/**
 * One MCP client connected to one upstream server through the Airlock. A
 * pass-through: every request, notification and response goes both ways
 * untouched except for renumbered ids (the bridge sends requests of its own on
 * both sides), `tools/list` (pinning and the tools list) and `tools/call`
 * (checks, then a receipt for every call, forwarded or not).
 */
export class BridgeSession {
  readonly #parts: SessionParts;
  readonly #down: MessageTransport;
  readonly #client = new ClientView();
  readonly #nonces = new InMemoryNonceStore();
  readonly #restart: RestartPolicy;

  #link: UpstreamLink | undefined;
  #generation = 0;
  #ready = false;
  #closing = false;
  #waiting: (() => void)[] = [];

  #nextUp = 1;
  readonly #toUp = new Map<number, UpPending>();
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

  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;

  constructor(parts: SessionParts, downstream: MessageTransport) {
    this.#parts = parts;
    this.#down = downstream;
    this.#restart = parts.restart ?? DEFAULT_RESTART;
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
    await this.#connect();
    this.#ready = true;
    this.#down.onmessage = (message) => this.#fromClient(message);
    this.#down.oninvalid = (id, code, reason) => {
      this.#event({ type: 'invalid-message', from: 'client', reason });
      void this.#down.send(errorResponse(id, code, reason));
    };
    this.#down.onclose = () => void this.close();
    await this.#down.start();
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#closed;
    this.#closing = true;
    this.#ready = false;
    for (const controller of this.#gating.values()) controller.abort(new Error('session closed'));
    await this.#failUpstreamPending('the bridge session closed');
    const link = this.#link;
    this.#link = undefined;
    await Promise.allSettled([link?.stop(), this.#down.close()]);
    this.#resolveClosed();
    return this.#closed;
  }

  // ---- client -> server -------------------------------------------------------------

  #fromClient(raw: unknown): void {
    const message = classify(raw);
    switch (message.kind) {
      case 'invalid':
        this.#event({ type: 'invalid-message', from: 'client', reason: message.reason });
        void this.#down.send(
          errorResponse(message.id, -32600, `invalid JSON-RPC message: ${message.reason}`),
        );
        return;
      case 'request':
        this.#whenReady(() => this.#clientRequest(message.message));
        return;
      case 'notification':
        this.#clientNotification(message.message);
        return;
      default:
        this.#clientResponse(message.message);
    }
  }

  #clientRequest(request: JsonRpcRequest): void {
    if (request.method === 'initialize') this.#client.sawInitialize(request.params);
    if (request.method === 'tools/call') {
      void this.#toolCall(request);
      return;
    }
    const taskId = request.params?.taskId;
    const task =
      request.method === 'tasks/result' && typeof taskId === 'string' ? this.#tasks.get(taskId) : undefined;
    if (task !== undefined) {
      this.#forward(request, { kind: 'task-result', clientId: request.id, call: task });
      return;
    }
    this.#forward(
      request,
      request.method === 'tools/list'
        ? { kind: 'tools-list', clientId: request.id }
        : { kind: 'forward', clientId: request.id, method: request.method },
    );
  }

  #clientNotification(notification: JsonRpcNotification): void {
    if (notification.method === 'notifications/cancelled') {
      const requestId = notification.params?.requestId;
      if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
      const gating = this.#gating.get(idKey(requestId));
      if (gating !== undefined) {
        gating.abort(new Error('cancelled by the client'));
        return;
      }
      const upId = this.#upByClient.get(idKey(requestId));
      if (upId === undefined) return;
      const pending = this.#toUp.get(upId);
      this.#toUp.delete(upId);
      this.#upByClient.delete(idKey(requestId));
      if (pending?.kind === 'tool-call' || pending?.kind === 'task-result') {
        void this.#finish({ call: pending.call, outcome: 'cancelled' });
      }
      this.#sendUp({ ...notification, params: { ...notification.params, requestId: upId } });
      return;
    }
    if (notification.method === 'notifications/initialized') this.#client.sawInitialized();
    this.#whenReady(() => {
      this.#sendUp(notification);
      // Pin the tool definitions before the client can call anything it has not listed.
      if (notification.method === 'notifications/initialized') void this.#refreshPins();
    });
  }

  #clientResponse(response: JsonRpcResult | JsonRpcError): void {
    if (response.id === null || typeof response.id !== 'number') return;
    const pending = this.#toDown.get(response.id);
    if (pending === undefined) return;
    this.#toDown.delete(response.id);
    if (pending.kind === 'internal') {
      pending.settle(response);
      return;
    }
    this.#downByServer.delete(idKey(pending.serverId));
    // A reply meant for a server that has since been restarted has nobody to go to.
    if (pending.generation !== this.#generation) return;
    this.#sendUp({ ...response, id: pending.serverId });
  }

  #forward(request: JsonRpcRequest, pending: Exclude<UpPending, { kind: 'internal' }>): void {
    const id = this.#nextUp++;
    this.#toUp.set(id, pending);
    this.#upByClient.set(idKey(request.id), id);
    const token = (request.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (typeof token === 'string' || typeof token === 'number') this.#progress.set(idKey(token), request.id);
    this.#sendUp({ ...request, id });
  }

  // ---- tools/call ---------------------------------------------------------------------

  async #toolCall(request: JsonRpcRequest): Promise<void> {
    const params = request.params ?? {};
    const tool = params.name;
    if (typeof tool !== 'string') {
      void this.#down.send(errorResponse(request.id, INVALID_PARAMS, 'tools/call needs a string "name"'));
      return;
    }
    const args = isRecord(params.arguments) ? params.arguments : {};
    const meta = isRecord(params._meta) ? params._meta : undefined;
    const startedAt = new Date();
    const server = this.#parts.connector.identity.name;
    const usage = this.#link?.usage();
    const principal = resolvePrincipal({
      fixedAgent: this.#parts.agent,
      clientName: this.#client.name,
      tool,
      args,
      meta,
      nonces: this.#nonces,
    });
    const call: ActiveCall = {
      callId: randomUUID(),
      agent: principal.ok ? principal.id : 'unverified',
      ...(principal.ok && principal.signedRequest !== undefined
        ? { agentSignedRequest: principal.signedRequest }
        : {}),
      ...this.#client.record(),
      server: this.#parts.connector.identity,
      tier: this.#link?.tier ?? 'unknown',
      tool,
      upstreamTool: tool,
      toolDefinitionDigest: this.#parts.gate.pins?.pinned(server, tool) ?? jcsDigest({ name: tool }),
      policyDigest: this.#parts.gate.policy?.policies.digest ?? sha256Hex(''),
      arguments: args,
      decision: { effect: 'deny', reason: 'not yet decided' },
      checks: {},
      startedAt,
      startedMs: performance.now(),
      ...(usage === undefined ? {} : { usageAtStart: usage }),
    };
    if (!principal.ok) {
      await this.#deny(request.id, { ...call, decision: { effect: 'deny', reason: principal.reason } });
      return;
    }
    const controller = new AbortController();
    const key = idKey(request.id);
    this.#gating.set(key, controller);
    const admission = await admitCall(
      this.#parts.gate,
      { callId: call.callId, agent: call.agent, server, tool, upstreamTool: tool, arguments: args },
      this.#client.approvalChannels((p, signal) =>
        this.#askClient('elicitation/create', p, request.id, signal),
      ),
      controller.signal,
    );
    this.#gating.delete(key);
    const decided = { ...call, decision: admission.decision, checks: admission.checks };
    if (controller.signal.aborted) {
      // The client cancelled while we waited (for approval); MCP says not to answer a cancelled request.
      await this.#finish({ call: decided, outcome: 'cancelled' });
      return;
    }
    if (admission.decision.effect === 'deny') {
      await this.#deny(request.id, decided);
      return;
    }
    this.#whenReady(() => {
      const forwardedParams = { ...params };
      if (meta !== undefined) {
        const { 'oacp/agent-request': _proof, ...rest } = meta;
        forwardedParams._meta = rest;
      }
      this.#forward(
        { ...request, params: forwardedParams },
        { kind: 'tool-call', clientId: request.id, call: decided },
      );
    });
  }

  async #deny(clientId: JsonRpcId, call: ActiveCall): Promise<void> {
    const receipt = await this.#finish({ call, outcome: 'denied' });
    if (receipt === undefined) {
      void this.#down.send(
        errorResponse(
          clientId,
          INTERNAL_ERROR,
          `call denied (${call.decision.reason}); its receipt could not be written`,
        ),
      );
      return;
    }
    void this.#down.send({
      jsonrpc: '2.0',
      id: clientId,
      result: denialResult(call.decision.reason, receipt),
    });
  }

  /** Writes the receipt; undefined (and an event) when the recorder failed. */
  async #finish(finished: FinishedCall): Promise<Record<string, unknown> | undefined> {
    try {
      const ref = await this.#parts.recorder.finish(finished, this.#link?.usage());
      return { ...ref };
    } catch (error) {
      this.#event({ type: 'receipt-failed', callId: finished.call.callId, reason: describe(error) });
      return undefined;
    }
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
    const receipt = await this.#finish(finished);
    if (receipt === undefined) {
      // Results without a receipt are withheld: every answer the agent acts on must be attested.
      void this.#down.send(
        errorResponse(
          pending.clientId,
          INTERNAL_ERROR,
          'the tool ran but its receipt could not be written; result withheld',
        ),
      );
      return;
    }
    if ('result' in response) {
      const meta = isRecord(response.result._meta) ? response.result._meta : {};
      const result = { ...response.result, _meta: { ...meta, [RECEIPT_META]: receipt } };
      void this.#down.send({ jsonrpc: '2.0', id: pending.clientId, result });
      return;
    }
    const data = response.error.data;
    const withReceipt =
      data === undefined || isRecord(data) ? { ...(data ?? {}), [RECEIPT_META]: receipt } : data;
    void this.#down.send(
      errorResponse(pending.clientId, response.error.code, response.error.message, withReceipt),
    );
  }

  // ---- server -> client ---------------------------------------------------------------

  #fromServer(raw: unknown, generation: number): void {
    if (generation !== this.#generation) return;
    const message = classify(raw);
    switch (message.kind) {
      case 'invalid':
        this.#serverInvalid(message.id, message.reason);
        return;
      case 'request':
        this.#serverRequest(message.message, generation);
        return;
      case 'notification':
        this.#serverNotification(message.message);
        return;
      default:
        this.#serverResponse(message.message);
    }
  }

  #serverInvalid(id: JsonRpcId | null, reason: string): void {
    this.#event({ type: 'invalid-message', from: 'server', reason });
    if (typeof id === 'number' && this.#toUp.has(id)) {
      // A malformed answer to one of our requests: the client gets an error for it.
      this.#serverResponse(
        errorResponse(id, INTERNAL_ERROR, `the server sent a malformed response: ${reason}`),
      );
      return;
    }
    this.#sendUp(errorResponse(id, -32600, `invalid JSON-RPC message: ${reason}`));
  }

  #serverRequest(request: JsonRpcRequest, generation: number): void {
    const id = this.#nextDown++;
    this.#toDown.set(id, { kind: 'forward', serverId: request.id, generation });
    this.#downByServer.set(idKey(request.id), id);
    void this.#down.send({ ...request, id }, this.#related(undefined));
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
      void this.#down.send(
        { ...notification, params: { ...params, requestId: downId } },
        this.#related(undefined),
      );
      return;
    }
    if (notification.method === 'notifications/tools/list_changed') void this.#refreshPins();
    const token = params?.progressToken;
    const related =
      typeof token === 'string' || typeof token === 'number' ? this.#progress.get(idKey(token)) : undefined;
    void this.#down.send(notification, this.#related(related));
  }

  #serverResponse(response: JsonRpcResult | JsonRpcError): void {
    if (typeof response.id !== 'number') return;
    const pending = this.#toUp.get(response.id);
    if (pending === undefined) return;
    this.#toUp.delete(response.id);
    if (pending.kind === 'internal') {
      pending.settle(response);
      return;
    }
    this.#upByClient.delete(idKey(pending.clientId));
    this.#forgetProgress(pending.clientId);
    if (pending.kind === 'tool-call' || pending.kind === 'task-result') {
      void this.#toolCallAnswered(pending, response);
      return;
    }
    if (pending.kind === 'tools-list' && 'result' in response) {
      const result = processToolList(response.result, this.#parts.connector.identity.name, this.#parts.gate);
      void this.#down.send({ jsonrpc: '2.0', id: pending.clientId, result });
      return;
    }
    void this.#down.send({ ...response, id: pending.clientId });
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

  #forgetProgress(clientId: JsonRpcId): void {
    for (const [token, id] of this.#progress) {
      if (id === clientId) this.#progress.delete(token);
    }
  }

  // ---- requests the bridge itself makes ------------------------------------------------

  #askClient(
    method: string,
    params: Record<string, unknown>,
    related: JsonRpcId,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextDown++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#toDown.delete(id);
        void this.#down.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'timed out or cancelled' },
        });
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#toDown.set(id, {
        kind: 'internal',
        settle: (message) => {
          signal.removeEventListener('abort', onAbort);
          if ('result' in message) resolve(message.result);
          else
            reject(
              new Error(
                `client answered ${method} with error ${message.error.code}: ${message.error.message}`,
              ),
            );
        },
      });
      void this.#down.send({ jsonrpc: '2.0', id, method, params }, { relatedRequestId: related });
    });
  }

  #askServer(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#nextUp++;
    return new Promise((resolve, reject) => {
      this.#toUp.set(id, {
        kind: 'internal',
        settle: (message) => {
          if ('result' in message) resolve(message.result);
          else
            reject(
              new Error(
                `server answered ${method} with error ${message.error.code}: ${message.error.message}`,
              ),
            );
        },
      });
      this.#sendUp({ jsonrpc: '2.0', id, method, params });
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
        const result = await this.#askServer('tools/list', cursor === undefined ? {} : { cursor });
        processToolList(result, this.#parts.connector.identity.name, this.#parts.gate);
        cursor = result.nextCursor;
        if (typeof cursor !== 'string') break;
      }
    } catch {
      // A server without tools (or one that just died) has nothing to pin; calls are still checked.
    } finally {
      this.#pinRefreshRunning = false;
      if (this.#pinRefreshAgain) void this.#refreshPins();
    }
  }

  // ---- the upstream link and its restarts ----------------------------------------------

  async #connect(): Promise<void> {
    const link = await this.#parts.connector.connect();
    const generation = ++this.#generation;
    this.#link = link;
    link.transport.onmessage = (message) => this.#fromServer(message, generation);
    link.transport.oninvalid = (id, code, reason) => {
      if (generation !== this.#generation) return;
      this.#event({ type: 'invalid-message', from: 'server', reason });
      this.#sendUp(errorResponse(id, code, reason));
    };
    link.transport.onerror = () => undefined;
    void link.ended.then((reason) => this.#upstreamEnded(generation, reason));
    await link.transport.start();
  }

  async #upstreamEnded(generation: number, reason: string): Promise<void> {
    if (this.#closing || generation !== this.#generation) return;
    this.#ready = false;
    this.#event({ type: 'upstream-ended', reason });
    await this.#failUpstreamPending(`upstream server is gone (${reason}); the bridge is restarting it`);
    for (let attempt = 1; !this.#closing; attempt++) {
      const delay = Math.min(this.#restart.initialDelayMs * 2 ** (attempt - 1), this.#restart.maxDelayMs);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closing) return;
      try {
        await this.#connect();
        await this.#replayInitialize();
        this.#ready = true;
        this.#event({ type: 'upstream-restarted', attempt });
        this.#flushWaiting();
        void this.#refreshPins();
        return;
      } catch (error) {
        this.#ready = false;
        this.#event({ type: 'upstream-restart-failed', attempt, reason: describe(error) });
        await this.#link?.stop().catch(() => undefined);
        if (attempt >= this.#restart.maxAttempts) {
          this.#event({ type: 'upstream-gave-up', reason: describe(error) });
          await this.close();
          return;
        }
      }
    }
  }

  /** A restarted server knows nothing of the session: it gets the client's initialize again. */
  async #replayInitialize(): Promise<void> {
    const params = this.#client.initializeParams;
    if (params === undefined) return;
    await withTimeout(
      this.#askServer('initialize', params),
      REPLAY_TIMEOUT_MS,
      'the restarted server did not answer initialize',
    );
    if (this.#client.initialized) this.#sendUp({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  async #failUpstreamPending(reason: string): Promise<void> {
    const pending = [...this.#toUp.entries()];
    this.#toUp.clear();
    this.#upByClient.clear();
    this.#progress.clear();
    const finishing: Promise<unknown>[] = [];
    for (const [id, entry] of pending) {
      if (entry.kind === 'internal') {
        entry.settle(errorResponse(id, CONNECTION_CLOSED, reason));
        continue;
      }
      if (entry.kind === 'tool-call' || entry.kind === 'task-result') {
        // The receipt is written before the client hears of the failure: no call goes unrecorded.
        finishing.push(
          this.#finish({
            call: entry.call,
            outcome: 'server-gone',
            error: { code: CONNECTION_CLOSED, message: reason },
          }).then((receipt) =>
            this.#down.send(
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
      finishing.push(this.#down.send(errorResponse(entry.clientId, CONNECTION_CLOSED, reason)));
    }
    for (const [id, entry] of this.#toDown) {
      if (entry.kind === 'forward') {
        this.#toDown.delete(id);
        this.#downByServer.delete(idKey(entry.serverId));
      }
    }
    await Promise.allSettled(finishing);
  }

  #whenReady(action: () => void): void {
    if (this.#ready) action();
    else if (!this.#closing) this.#waiting.push(action);
  }

  #flushWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const action of waiting) action();
  }

  /** Sends on the current link; client traffic reaches here only through #whenReady. */
  #sendUp(message: JsonRpcMessage): void {
    void this.#link?.transport.send(message);
  }

  #event(event: BridgeEvent): void {
    this.#parts.onEvent?.(event);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
