import { clipText } from '../core/clip-text.js';
import { type ActiveCall, type FinishedCall, RECEIPT_META } from './call-recorder.js';
import { failedCallHint } from './diagnose/failed-call-hint.js';
import {
  CONNECTION_CLOSED,
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  idKey,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcRequest,
  type JsonRpcResult,
} from './jsonrpc.js';
import { LiveTasks, type TaskRefusal } from './live-tasks.js';
import type { ListingOutcome } from './pin-refresher.js';
import { isPolicedRead } from './read-requests.js';
import { CLIENT_REQUEST_PREFIX } from './recorded-requests.js';
import { isToolCall, type ToolCallPending } from './session-pending.js';
import { type DirectCall, type DirectOutcome, REQUEST_CANCELLED } from './session-types.js';
import { failure, type SessionWire } from './session-wire.js';
import { type Decided, type Outcome, outcomeMessage } from './tool-call-flow.js';
import { WaitingRequests } from './waiting-requests.js';

/**
 * tools/call in a bridge session, from the client or from an in-process
 * caller (the gateway): the checks of ToolCallFlow, then the call forwarded
 * (the receipt slot checked again at the last moment), then one receipt for
 * whatever came of it. Task-augmented calls get a second receipt for their
 * final result (tasks/result).
 */
export class SessionToolCalls {
  /** Calls still being decided (awaiting approval), by client id: a cancel aborts them. */
  readonly #gating = new Map<string, AbortController>();
  /** The client's calls still being decided or recorded (fromClient under way): the session's end waits for them. */
  readonly #deciding = new Set<Promise<void>>();
  /** Task-augmented calls by task id: their final result (tasks/result) gets a receipt of its own. */
  readonly #tasks = new LiveTasks();
  /** Whether this session's log already has a failed call's hint (#hintOnce). */
  #hinted = false;
  /** Allowed calls not yet sent (their server still starting), by client id: a cancel withdraws them unsent. */
  readonly #unsent: WaitingRequests<ActiveCall>;

  constructor(
    private readonly wire: SessionWire,
    /** The bridge's own tools/list of the server, under way or started (SessionSupervision.listTools). */
    private readonly listing: () => Promise<ListingOutcome>,
  ) {
    this.#unsent = new WaitingRequests(wire.ready);
  }

  /**
   * A client's tools/call, or one of its policed reads (resources/read, prompts/get, …; see
   * read-requests.ts): the same checks, forwarding and one receipt. A refused read is answered
   * with an error carrying its receipt (its result has no error form of its own).
   */
  async fromClient(request: JsonRpcRequest): Promise<void> {
    const deciding = this.#decideAndSend(request);
    this.#deciding.add(deciding);
    try {
      await deciding;
    } finally {
      this.#deciding.delete(deciding);
    }
  }

  async #decideAndSend(request: JsonRpcRequest): Promise<void> {
    const flow = this.wire.flow();
    const controller = new AbortController();
    const key = idKey(request.id);
    this.#gating.set(key, controller);
    const method = isPolicedRead(request.method) ? request.method : 'tools/call';
    const unlisted =
      method === 'tools/call' ? await this.#listed(request.params?.name, controller.signal) : undefined;
    const decided = await flow.decide(request.params, controller.signal, undefined, method, unlisted);
    this.#gating.delete(key);
    if (controller.signal.aborted) {
      if (controller.signal.reason instanceof SessionClosing) {
        // The session ended while the call was decided: never sent, and its caller hears why.
        const reason = controller.signal.reason.message;
        const error = { code: CONNECTION_CLOSED, message: reason };
        const receipt = await flow.finish({
          call: decided.call,
          outcome: 'cancelled',
          forwarded: false,
          error,
        });
        this.#answer(request.id, failure(CONNECTION_CLOSED, reason, receipt));
        return;
      }
      // The client cancelled while we waited (for approval); MCP says not to answer a cancelled request.
      await flow.finish({ call: decided.call, outcome: 'cancelled', forwarded: false });
      return;
    }
    if (decided.effect === 'deny') {
      if (method === 'tools/call') this.#answer(request.id, await flow.finishDenied(decided.call));
      else this.#answer(request.id, await flow.finishDeniedRead(method, decided.call));
      return;
    }
    this.#execute(decided, {
      kind: 'tool-call',
      clientId: request.id,
      method: request.method,
      call: decided.call,
    });
  }

  /**
   * A tools/call from an in-process caller that has already authenticated its
   * agent and made its own checks (the gateway): the same pipeline as a
   * client's call, its checks joined into the one decision, one receipt; no
   * MCP client, no signed request, no second verification.
   */
  async direct(input: DirectCall): Promise<DirectOutcome> {
    const flow = this.wire.flow();
    const params = { name: input.tool, arguments: input.arguments };
    const signal = input.signal ?? new AbortController().signal;
    // A call its caller's own checks refused already (a tool it does not have) needs no listing.
    const refused = input.prior?.tools?.effect === 'deny' || input.identityRefused !== undefined;
    const unlisted = refused ? undefined : await this.#listed(input.tool, signal);
    const decided = await flow.decide(
      params,
      signal,
      {
        agent: input.agent,
        ...(input.prior === undefined ? {} : { prior: input.prior }),
        ...(input.identityRefused === undefined ? {} : { identityRefused: input.identityRefused }),
      },
      'tools/call',
      unlisted,
    );
    const { decision, checks } = decided.call;
    // The caller left while the call was decided (awaiting approval, whose wait its leaving ended): it is
    // never sent, and recorded as cancelled. A call another check refused stays recorded as denied.
    if (signal.aborted && (decided.effect === 'allow' || checks.approval?.approved === false)) {
      return { outcome: await this.#cancelledUnsent(decided.call), decision, checks };
    }
    if (decided.effect === 'deny') {
      return { outcome: await flow.finishDenied(decided.call), decision, checks };
    }
    const outcome = await new Promise<Outcome>((resolve) => {
      const clientId = `oacp-direct:${decided.call.callId}`;
      const reply = (answer: Outcome) => {
        signal.removeEventListener('abort', abandoned);
        resolve(answer);
      };
      const abandoned = () => {
        const unsent = this.#unsent.withdraw(clientId);
        if (unsent === undefined) this.#cancelForwarded(clientId);
        else void this.#cancelledUnsent(unsent).then(reply);
      };
      signal.addEventListener('abort', abandoned, { once: true });
      this.#execute(decided, {
        kind: 'tool-call',
        clientId,
        method: 'tools/call',
        call: decided.call,
        reply,
      });
    });
    return { outcome, decision, checks };
  }

  /**
   * A call to a tool whose listing the bridge has not seen waits for the bridge's own tools/list
   * (the one under way, sent when the client is initialized and on list_changed, else a new one;
   * one at a time, shared), at most the request deadline, so its argument names are checked
   * against the tool's inputSchema (listed-arguments.ts) rather than against nothing. Undefined
   * when the tool is listed now; else why the call is refused (the pipeline's shape step): the
   * server does not list it, or its tools could not be listed in time.
   */
  async #listed(tool: unknown, signal: AbortSignal): Promise<string | undefined> {
    const { listed } = this.wire.parts.gate;
    if (typeof tool !== 'string' || listed === undefined || listed.of(tool) !== undefined) return undefined;
    const seconds = this.wire.timeoutMs / 1000;
    const outcome = await withinDeadline(this.listing(), this.wire.timeoutMs, signal);
    const named = JSON.stringify(clipText(tool, 200));
    const server = JSON.stringify(this.wire.parts.connector.identity.name);
    if (outcome === 'late') {
      return `the bridge's own tools/list of server ${server} did not finish within ${seconds} s (the request deadline): the call to ${named} could not be checked against the tool's listed inputSchema, so it is refused`;
    }
    if (outcome === 'aborted') return undefined;
    if (!outcome.ok) {
      return `the bridge could not list the tools of server ${server} (${outcome.reason}): the call to ${named} could not be checked against the tool's listed inputSchema, so it is refused`;
    }
    if (listed.of(tool) !== undefined) return undefined;
    return `tool ${named} is not in the tools/list of server ${server} (the bridge listed them before deciding): a call to a tool its server does not list is refused, since its arguments cannot be checked against a listed inputSchema${this.#twinOfListed(tool)}`;
  }

  /** `; <why>` when the pins refuse `tool` too (a name reading as a listed tool's), else ''. */
  #twinOfListed(tool: string): string {
    try {
      const pin = this.wire.parts.gate.pins?.check(this.wire.parts.connector.identity.name, tool);
      return pin?.effect === 'deny' ? `; ${pin.reason}` : '';
    } catch {
      return '';
    }
  }

  /** A call whose caller went away before it was sent: never sent, and its one receipt says so. */
  async #cancelledUnsent(call: ActiveCall): Promise<Outcome> {
    const receipt = await this.wire.flow().finish({ call, outcome: 'cancelled', forwarded: false });
    return failure(
      REQUEST_CANCELLED,
      'the caller went away before the call was sent; it was not sent',
      receipt,
    );
  }

  /**
   * The in-process caller went away (the gateway's HTTP client dropped the request) while the
   * call was with the server: the server is told (notifications/cancelled, as an MCP client's
   * cancel would), and the call's one receipt says cancelled, forwarded. A call already
   * answered keeps its answer's receipt.
   */
  #cancelForwarded(clientId: string): void {
    const upId = this.wire.pending.upIdOf(clientId);
    if (upId === undefined) return;
    const pending = this.wire.pending.takeUp(upId);
    if (pending === undefined || !isToolCall(pending)) return;
    this.wire.pending.forgetClient(clientId);
    this.wire.sendUp({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: upId, reason: 'the caller went away' },
    });
    void this.wire
      .flow()
      .finish({ call: pending.call, outcome: 'cancelled', forwarded: true })
      .then((receipt) =>
        this.wire.replyTo(
          pending,
          failure(REQUEST_CANCELLED, 'the caller went away; the call was cancelled', receipt),
        ),
      );
  }

  /** tasks/result of a task-augmented call: forwarded, and its answer receipted under that call. */
  taskResult(request: JsonRpcRequest): void {
    const task = this.#heldTask(request);
    if (task === undefined) return;
    this.wire.forward(request, {
      kind: 'task-result',
      clientId: request.id,
      method: request.method,
      call: task,
      taskId: String(request.params?.taskId),
    });
  }

  /** Whether `taskId` names a task this session holds (a task-augmented call of its own, result to come). */
  holdsTask(taskId: unknown): boolean {
    return typeof taskId === 'string' && this.#tasks.get(taskId) !== undefined;
  }

  /** tasks/get, tasks/cancel: forwarded only for a task of this session (see #heldTask). */
  taskRequest(request: JsonRpcRequest): void {
    if (this.#heldTask(request) === undefined) return;
    this.wire.forward(request, { kind: 'forward', clientId: request.id, method: request.method });
  }

  /**
   * The call whose task `params.taskId` names, when this session holds it. Otherwise the request
   * is refused with a receipt of the refusal, never forwarded: a task id the bridge never handed
   * this session (another session's, on a server shared by sessions, or a guess) is not this
   * client's to read or end, and a result of a task the bridge no longer holds (fetched already,
   * or past its ttl) would reach the client with no receipt of its call.
   */
  #heldTask(request: JsonRpcRequest): ActiveCall | undefined {
    const taskId = request.params?.taskId;
    const task = typeof taskId === 'string' ? this.#tasks.get(taskId) : undefined;
    if (task !== undefined) return task;
    const named =
      typeof taskId === 'string'
        ? `task id ${JSON.stringify(clipText(taskId, 80))}, which this session holds no task-augmented call of (the bridge never handed it out in this session, its result was fetched already, or its ttl, at most 24 h, passed)`
        : 'no task id (params.taskId must be a string)';
    const reason = `${request.method} for ${named}: refused, since a session reads and ends only its own tasks and a task's result reaches the client only with a receipt under the call that started it`;
    void this.wire
      .flow()
      .refuseRequest(`${CLIENT_REQUEST_PREFIX}${request.method}`, request.params, reason)
      .then((receipt) =>
        this.wire.sendDown(
          errorResponse(
            request.id,
            INVALID_PARAMS,
            reason,
            receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
          ),
        ),
      );
    return undefined;
  }

  /**
   * The server answered a forwarded call with a task (MCP tasks): kept for its final result's
   * receipt, or refused (see LiveTasks.admit). Called as the answer arrives, before `answered`.
   */
  admitTask(pending: ToolCallPending, response: JsonRpcResult | JsonRpcError): TaskRefusal | undefined {
    if (pending.kind !== 'tool-call' || !('result' in response)) return undefined;
    const task = response.result.task as { taskId?: unknown; ttl?: unknown } | undefined;
    if (typeof task?.taskId !== 'string') return undefined;
    const admitted = this.#tasks.admit(task.taskId, pending.call, task.ttl);
    if (admitted === undefined) return undefined;
    const refusal = {
      ...admitted,
      reason: `${admitted.reason}; ${this.#cancelRefused(task.taskId, admitted)}`,
    };
    this.wire.event({ type: 'invalid-message', from: 'server', reason: refusal.reason });
    return refusal;
  }

  /**
   * A task the bridge refused to keep would go on working on the server for a result nobody can
   * fetch with its receipt: cancelled there (tasks/cancel, MCP tasks), unless its id names another
   * call's task, which the bridge keeps and a cancel would end. Says which, for the receipt.
   */
  #cancelRefused(taskId: string, refusal: TaskRefusal): string {
    if (refusal.code === 'task-id-reused') {
      return "no tasks/cancel was sent: the id names the other call's task, which the bridge keeps";
    }
    const named = JSON.stringify(clipText(taskId, 80));
    this.wire.askServer('tasks/cancel', { taskId }, this.wire.timeoutMs).catch((error: unknown) => {
      if (this.wire.ready.closing) return;
      this.wire.event({
        type: 'send-failed',
        to: 'server',
        reason: `tasks/cancel of the refused task ${named} failed: ${error instanceof Error ? error.message : String(error)}`,
      });
    });
    return 'the bridge cancelled it on the server (tasks/cancel)';
  }

  /**
   * The server answered a forwarded call: receipt first, then the answer with its receipt. A
   * task the bridge refused to keep (`refusal`) is answered as an error, its receipt saying why.
   */
  async answered(
    pending: ToolCallPending,
    response: JsonRpcResult | JsonRpcError,
    refusal?: TaskRefusal,
  ): Promise<void> {
    // Its receipt comes before the answer is sent: a client already gone is said in it, never a delivery.
    const gone = this.wire.canAnswer(pending.clientId) ? {} : { delivered: false as const };
    if (refusal !== undefined) {
      const error = { code: INTERNAL_ERROR, message: refusal.reason };
      const receipt = await this.wire
        .flow()
        .finish({ call: pending.call, outcome: 'error', forwarded: true, error, ...gone });
      this.wire.replyTo(pending, failure(INTERNAL_ERROR, refusal.reason, receipt));
      return;
    }
    // The task asked for is over (its final result answered), whatever task the answer's
    // related-task names: a server naming another task must not end that one in its place.
    if (pending.kind === 'task-result' && pending.taskId !== undefined && 'result' in response) {
      this.#tasks.end(pending.taskId);
      this.wire.pending.endTask(pending.taskId);
    }
    const finished: FinishedCall =
      'result' in response
        ? { call: pending.call, outcome: 'result', result: response.result, ...gone }
        : { call: pending.call, outcome: 'error', error: response.error, ...gone };
    this.wire.replyTo(pending, await this.wire.flow().answer(finished, response));
    this.#hintOnce(pending.call.tool, response);
  }

  /** The grant a failed call's answer suggests, said once a session (a client may repeat the call at will). */
  #hintOnce(tool: string, response: JsonRpcResult | JsonRpcError): void {
    if (this.#hinted) return;
    const hint = failedCallHint(response);
    if (hint === undefined) return;
    this.#hinted = true;
    this.wire.event({ type: 'call-hint', tool, hint });
  }

  /**
   * The client cancelled a call not yet sent (still being decided, or waiting
   * for its server to come up): true when there was one. A waiting call is
   * withdrawn and recorded as cancelled, never sent; MCP says not to answer it.
   */
  cancelUnsent(requestId: JsonRpcId): boolean {
    const gating = this.#gating.get(idKey(requestId));
    if (gating !== undefined) {
      gating.abort(new Error('cancelled by the client'));
      return true;
    }
    const unsent = this.#unsent.withdraw(requestId);
    if (unsent === undefined) return false;
    void this.wire.flow().finish({ call: unsent, outcome: 'cancelled', forwarded: false });
    return true;
  }

  /**
   * The session is ending: every call still being decided is withdrawn, recorded and answered
   * with CONNECTION_CLOSED; resolves once each has its receipt and its answer went down, so the
   * client's streams close after the answers, not before.
   */
  async abortAll(): Promise<void> {
    for (const controller of this.#gating.values()) controller.abort(new SessionClosing());
    await Promise.allSettled([...this.#deciding]);
  }

  /**
   * Forwards an allowed call once the server is up, the log still able to
   * take its receipt. Until then it can be withdrawn (a cancel, the caller
   * gone): a withdrawn call is neither sent nor answered here.
   */
  #execute(decided: Extract<Decided, { effect: 'allow' }>, pending: ToolCallPending): void {
    const flow = this.wire.flow();
    this.#unsent.hold(
      pending.clientId,
      decided.call,
      () => {
        // Checked again at the last moment: the log may have failed while the call awaited approval.
        const slot = flow.reserve() ?? flow.intend(decided.call);
        if (slot !== undefined) {
          void flow
            .finishDenied({ ...decided.call, decision: slot })
            .then((answer) => this.wire.replyTo(pending, answer));
          return;
        }
        this.wire.forward(
          { jsonrpc: '2.0', id: pending.clientId, method: pending.method, params: decided.forwardedParams },
          pending,
        );
      },
      (reason) =>
        void flow
          .finish({
            call: decided.call,
            outcome: 'server-gone',
            // The server never came up: the call was never sent.
            forwarded: false,
            error: { code: CONNECTION_CLOSED, message: reason },
          })
          .then((receipt) => this.wire.replyTo(pending, failure(CONNECTION_CLOSED, reason, receipt))),
    );
  }

  #answer(id: JsonRpcId, answer: Outcome): void {
    this.wire.sendDown(outcomeMessage(id, answer));
  }
}

/** The listing's outcome, unless the deadline passes first (`late`) or the caller leaves (`aborted`). */
function withinDeadline(
  outcome: Promise<ListingOutcome>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ListingOutcome | 'late' | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const done = (value: ListingOutcome | 'late' | 'aborted') => {
      clearTimeout(timer);
      signal.removeEventListener('abort', left);
      resolve(value);
    };
    const left = () => done('aborted');
    const timer = setTimeout(() => done('late'), timeoutMs);
    timer.unref();
    signal.addEventListener('abort', left, { once: true });
    outcome.then(done, (error: unknown) =>
      done({ ok: false, reason: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/** Why a call being decided was withdrawn: its session ended (not the client's cancel, which is not answered). */
class SessionClosing extends Error {
  constructor() {
    super('the bridge session closed before the call was sent');
  }
}
