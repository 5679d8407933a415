import type { ActiveCall } from './call-recorder.js';
import { RECEIPT_META } from './call-recorder.js';
import {
  type Classified,
  classify,
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResult,
} from './jsonrpc.js';
import { exceedsLimits, type MessageLimits } from './message-limits.js';
import { imitatedMethod } from './method-names.js';
import { decideServerRequest, SERVER_REQUEST_PREFIX } from './server-requests.js';
import { isToolCall } from './session-pending.js';
import type { SessionToolCalls } from './session-tool-calls.js';
import type { SessionWire } from './session-wire.js';
import { outcomeMessage } from './tool-call-flow.js';
import { processToolList } from './tool-list.js';

/** Task statuses after which a task's progress token is no longer valid (MCP tasks). */
const TASK_ENDED: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/**
 * How many of the server's requests may wait for the client's answer at once (a client slow to
 * answer sampling, or never answering): past it a server request is refused, and recorded,
 * rather than kept in the bridge without bound. MAX_CLIENT_IN_FLIGHT's other direction.
 */
export const MAX_SERVER_IN_FLIGHT = 1024;

/**
 * Everything the server sends: held to the limits first; its answers go back
 * to whoever asked (a tools/call through its receipt, a tools/list through
 * pinning and the tools list); its own requests to the client are judged by
 * policy and recorded (see decideServerRequest); its notifications pass,
 * tools/list_changed re-pinning the tools.
 */
export class ServerTraffic {
  constructor(
    private readonly wire: SessionWire,
    private readonly toolCalls: SessionToolCalls,
    private readonly limits: MessageLimits,
    private readonly refreshPins: () => void,
  ) {
    wire.answered = (response) => this.response(response);
  }

  message(raw: unknown, generation: number): void {
    if (generation !== this.wire.upstream().generation) return;
    if (Array.isArray(raw)) {
      this.#batch(raw);
      return;
    }
    const message = classify(raw);
    if (message.kind === 'invalid') {
      this.invalid(message.id, message.reason);
      return;
    }
    const overLimits = exceedsLimits(raw, this.limits);
    if (overLimits !== undefined) {
      this.#overLimits(message, overLimits, generation);
      return;
    }
    switch (message.kind) {
      case 'request':
        void this.#request(message.message, generation);
        return;
      case 'notification':
        this.#notification(message.message);
        return;
      default: {
        this.wire.upstream().alive();
        const misnumbered = this.#misnumbered(message.message.id);
        if (misnumbered !== undefined) {
          this.invalid(
            misnumbered,
            `it answered under the id ${JSON.stringify(message.message.id)}, a string, where the request's id was the number ${misnumbered} (JSON-RPC 2.0: a response carries the request's id, type included)`,
          );
          return;
        }
        this.response(message.message);
      }
    }
  }

  /**
   * A batch array from the server: MCP 2025-06-18 has no JSON-RPC batches, and the bridge never
   * sends one, so none is answered in one. Refused whole, as the client's are; but every request
   * of the bridge's it answers is known from its id, and its caller gets its error now (a tool
   * call's receipt records it), not at the request deadline.
   */
  #batch(batch: readonly unknown[]): void {
    const reason = 'a JSON-RPC batch (an array), which MCP 2025-06-18 does not allow';
    let answered = 0;
    for (const element of batch) {
      const id = (element as { id?: unknown } | null)?.id;
      if (typeof id !== 'number' || !this.wire.pending.hasUp(id)) continue;
      this.response(errorResponse(id, INTERNAL_ERROR, `the server sent a malformed response: ${reason}`));
      answered++;
    }
    if (answered === 0) this.invalid(null, reason);
    else this.wire.event({ type: 'invalid-message', from: 'server', reason });
  }

  /** The numeric id of a request in flight that a response names as a string ("7" for 7). */
  #misnumbered(id: JsonRpcId | null): number | undefined {
    if (typeof id !== 'string' || !/^(0|-?[1-9][0-9]{0,15})$/.test(id)) return undefined;
    const asNumber = Number(id);
    return Number.isSafeInteger(asNumber) && this.wire.pending.hasUp(asNumber) ? asNumber : undefined;
  }

  invalid(id: JsonRpcId | null, reason: string): void {
    this.wire.event({ type: 'invalid-message', from: 'server', reason });
    if (typeof id === 'number' && this.wire.pending.hasUp(id)) {
      // A malformed (or oversized) answer to one of our requests: its caller gets an error for it.
      this.response(errorResponse(id, INTERNAL_ERROR, `the server sent a malformed response: ${reason}`));
      return;
    }
    this.wire.sendUp(errorResponse(id, INVALID_REQUEST, `invalid JSON-RPC message: ${reason}`));
  }

  /** The server's answer to a request the bridge forwarded or made. */
  response(response: JsonRpcResult | JsonRpcError): void {
    if (typeof response.id !== 'number') return;
    const pending = this.wire.pending.takeUp(response.id);
    if (pending === undefined) return;
    if (pending.kind === 'internal') {
      pending.settle(response);
      return;
    }
    const task =
      'result' in response ? (response.result.task as { taskId?: unknown } | undefined) : undefined;
    // A task the bridge will not keep (a reused id, too many) keeps no progress token either.
    const refusal = isToolCall(pending) ? this.toolCalls.admitTask(pending, response) : undefined;
    if (typeof task?.taskId === 'string' && refusal === undefined)
      this.wire.pending.keepProgressForTask(pending.clientId, task.taskId);
    this.wire.pending.forgetClient(pending.clientId);
    if (isToolCall(pending)) {
      void this.toolCalls.answered(pending, response, refusal);
      return;
    }
    if (pending.kind === 'tools-list' && 'result' in response) {
      const { parts } = this.wire;
      const result = processToolList(response.result, parts.connector.identity.name, parts.gate);
      this.wire.sendDown({ jsonrpc: '2.0', id: pending.clientId, result });
      return;
    }
    if (pending.kind === 'tasks-list' && 'result' in response) {
      this.wire.sendDown({ jsonrpc: '2.0', id: pending.clientId, result: this.#ownTasks(response.result) });
      return;
    }
    this.wire.sendDown({ ...response, id: pending.clientId });
  }

  /**
   * A tasks/list answer keeps only the tasks this session holds: a server shared by sessions (a
   * remote one) may list every session's, and a session reads only its own (SessionToolCalls).
   */
  #ownTasks(result: Record<string, unknown>): Record<string, unknown> {
    if (!Array.isArray(result.tasks)) return result;
    const tasks = result.tasks.filter((task: unknown) =>
      this.toolCalls.holdsTask((task as { taskId?: unknown } | null)?.taskId),
    );
    return { ...result, tasks };
  }

  #overLimits(message: Exclude<Classified, { kind: 'invalid' }>, reason: string, generation: number): void {
    this.wire.event({ type: 'invalid-message', from: 'server', reason });
    switch (message.kind) {
      case 'request':
        void this.#request(message.message, generation, reason);
        return;
      case 'notification':
        return;
      default:
        // The result is withheld; a tool call's receipt records the refusal as its error.
        if (typeof message.message.id === 'number') {
          this.response(
            errorResponse(message.message.id, INTERNAL_ERROR, `the server's response was refused: ${reason}`),
          );
        }
    }
  }

  /** The server asks the client something: judged by policy, recorded, then forwarded or refused. */
  async #request(request: JsonRpcRequest, generation: number, overLimits?: string): Promise<void> {
    const { wire } = this;
    const flow = wire.flow();
    const imitated = imitatedMethod(request.method);
    const refusal =
      overLimits ??
      (imitated === undefined
        ? undefined
        : `method ${JSON.stringify(request.method)} is not ${imitated}: a method name that differs from an MCP method only in case, spacing or Unicode form is refused`) ??
      (wire.pending.downInFlight() >= MAX_SERVER_IN_FLIGHT
        ? `the server has ${MAX_SERVER_IN_FLIGHT} requests to the client in flight (the bridge's bound on what waits for a client's answer): retry once some are answered`
        : undefined);
    const verdict =
      refusal === undefined
        ? decideServerRequest(() => wire.parts.gate.policy, {
            agent: flow.sessionAgent(),
            server: wire.parts.connector.identity.name,
            method: request.method,
          })
        : {
            decision: { effect: 'deny' as const, reason: refusal },
            checks: { shape: { effect: 'deny' as const, reason: refusal } },
            recorded: true,
          };
    // A request passed on is an effect (the client may ask its model or its user): not once the session closes.
    if (
      verdict.decision.effect === 'allow' &&
      (generation !== wire.upstream().generation || wire.ready.closing)
    )
      return;
    let call: ActiveCall | undefined;
    if (verdict.recorded) {
      call = flow.serverRequestCall(
        `${SERVER_REQUEST_PREFIX}${request.method}`,
        request.params ?? {},
        verdict,
      );
      // As for a tools/call: the log must take its receipt, and its `interrupted` receipt is kept
      // (the intent journal) before the client has it, so a bridge killed meanwhile leaves one.
      const slot = verdict.decision.effect === 'allow' ? (flow.reserve() ?? flow.intend(call)) : undefined;
      if (verdict.decision.effect === 'deny' || slot !== undefined) {
        const denied = slot === undefined ? call : { ...call, decision: slot };
        const receipt = await flow.finish({ call: denied, outcome: 'denied' });
        if (generation !== wire.upstream().generation) return;
        wire.sendUp(
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
    if (generation !== wire.upstream().generation || wire.ready.closing) return;
    const id = wire.pending.passedDown({
      serverId: request.id,
      generation,
      ...(call === undefined ? {} : { call }),
    });
    wire.sendDown({ ...request, id }, wire.related(undefined));
  }

  #notification(notification: JsonRpcNotification): void {
    const params = notification.params;
    const imitated = imitatedMethod(notification.method);
    if (imitated !== undefined) {
      this.wire.event({
        type: 'invalid-message',
        from: 'server',
        reason: `notification ${JSON.stringify(notification.method)} imitates ${imitated}: dropped`,
      });
      return;
    }
    if (notification.method === 'notifications/cancelled') {
      const requestId = params?.requestId;
      if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
      const down = this.wire.pending.takeDownByServer(requestId);
      if (down === undefined) return;
      // The client had it (and may have acted on it): a policed request is recorded as cancelled.
      if (down.pending.call !== undefined) {
        void this.wire.flow().finish({ call: down.pending.call, outcome: 'cancelled', forwarded: true });
      }
      this.wire.sendDown(
        { ...notification, params: { ...params, requestId: down.id } },
        this.wire.related(undefined),
      );
      return;
    }
    if (notification.method === 'notifications/tools/list_changed') this.refreshPins();
    if (notification.method === 'notifications/tasks/status') {
      // A session sees the status of its own tasks only: a server shared by sessions (or one
      // guessing) could otherwise tell this client of another session's task, or of one never
      // handed out here, which its tasks/get would then be refused (SessionToolCalls).
      if (!this.toolCalls.holdsTask(params?.taskId)) {
        this.wire.event({
          type: 'invalid-message',
          from: 'server',
          reason: `status of task ${JSON.stringify(params?.taskId ?? null).slice(0, 80)}, which this session does not hold: dropped`,
        });
        return;
      }
      if (TASK_ENDED.has(String(params?.status))) this.wire.pending.endTask(String(params?.taskId));
    }
    const related = this.wire.pending.progressOf(params?.progressToken);
    if (
      notification.method === 'notifications/progress' &&
      !this.wire.pending.progressHeld(params?.progressToken)
    ) {
      // MCP: progress names a token of a request in flight (or of its task, until the task ends). One
      // never issued, or of a call already answered, timed out or cancelled, would reach the client as
      // another call's progress (a token it reuses, or the newest call's POST stream over HTTP): dropped, and said.
      this.wire.event({
        type: 'invalid-message',
        from: 'server',
        reason: `progress for token ${JSON.stringify(params?.progressToken ?? null).slice(0, 80)}, which no request in flight holds: dropped`,
      });
      return;
    }
    this.wire.sendDown(notification, this.wire.related(related));
  }

  /** The client answered a request the server sent: recorded when policed, then passed on. */
  clientAnswered(response: JsonRpcResult | JsonRpcError): void {
    if (response.id === null || typeof response.id !== 'number') return;
    const pending = this.wire.pending.takeDown(response.id);
    if (pending === undefined) return;
    // A reply meant for a server that has since been restarted has nobody to go to.
    if (pending.generation !== this.wire.upstream().generation) return;
    if (pending.call === undefined) {
      this.wire.sendUp({ ...response, id: pending.serverId });
      return;
    }
    void this.wire
      .flow()
      .finishServerRequest(pending.call, response)
      .then((answer) => {
        if (pending.generation === this.wire.upstream().generation)
          this.wire.sendUp(outcomeMessage(pending.serverId, answer));
      });
  }
}
