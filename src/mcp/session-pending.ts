import type { ActiveCall } from './call-recorder.js';
import { idKey, type JsonRpcError, type JsonRpcId, type JsonRpcResult } from './jsonrpc.js';
import type { Outcome } from './tool-call-flow.js';

/** What a request the bridge forwarded to the server is waiting for. */
export type UpPending =
  | { readonly kind: 'forward'; readonly clientId: JsonRpcId; readonly method: string }
  | { readonly kind: 'tools-list'; readonly clientId: JsonRpcId; readonly method: string }
  | { readonly kind: 'tasks-list'; readonly clientId: JsonRpcId; readonly method: string }
  | ToolCallPending
  | { readonly kind: 'internal'; settle(message: JsonRpcResult | JsonRpcError): void };

export interface ToolCallPending {
  readonly kind: 'tool-call' | 'task-result';
  readonly clientId: JsonRpcId;
  readonly method: string;
  readonly call: ActiveCall;
  /** A tasks/result's task id (the session holds its call): the task its answer ends. */
  readonly taskId?: string;
  /** Where the answer goes when the caller is in-process (BridgeSession.call), not the client. */
  readonly reply?: (outcome: Outcome) => void;
}

export type ClientPending = Exclude<UpPending, { kind: 'internal' }>;

/** A server request the bridge passed to the client, by the id the client saw. */
export interface DownPending {
  readonly serverId: JsonRpcId;
  readonly generation: number;
  /** The receipt-bearing record of a policed server request (sampling, roots, elicitation). */
  readonly call?: ActiveCall;
}

export function isToolCall(pending: UpPending | undefined): pending is ToolCallPending {
  return pending?.kind === 'tool-call' || pending?.kind === 'task-result';
}

/**
 * The session's bookkeeping of requests in flight, both ways: the ids the
 * bridge renumbered them to, the deadline of each forwarded request, progress
 * tokens back to their request. Pure bookkeeping: nothing here sends.
 */
export class PendingRequests {
  #nextUp = 1;
  readonly #toUp = new Map<number, UpPending>();
  readonly #deadlines = new Map<number, NodeJS.Timeout>();
  readonly #upByClient = new Map<string, number>();
  readonly #progress = new Map<string, JsonRpcId>();
  /** Progress tokens of task-augmented requests already answered (with a task): by token, the task id. */
  readonly #taskProgress = new Map<string, string>();
  #nextDown = 1;
  readonly #toDown = new Map<number, DownPending>();
  readonly #downByServer = new Map<string, number>();

  /** A fresh id for a request to the server. */
  nextUpId(): number {
    return this.#nextUp++;
  }

  /** Records a client's request forwarded under `id`, with its deadline. */
  forwarded(
    id: number,
    pending: ClientPending,
    progressToken: unknown,
    timeoutMs: number,
    timedOut: (id: number) => void,
  ): void {
    this.#toUp.set(id, pending);
    this.#upByClient.set(idKey(pending.clientId), id);
    if (
      (typeof progressToken === 'string' || typeof progressToken === 'number') &&
      !this.#progress.has(idKey(progressToken))
    )
      this.#progress.set(idKey(progressToken), pending.clientId);
    const deadline = setTimeout(() => timedOut(id), timeoutMs);
    deadline.unref();
    this.#deadlines.set(id, deadline);
  }

  /** Records one of the bridge's own requests (no client, no deadline here). */
  internal(id: number, pending: Extract<UpPending, { kind: 'internal' }>): void {
    this.#toUp.set(id, pending);
  }

  hasUp(id: number): boolean {
    return this.#toUp.has(id);
  }

  dropUp(id: number): void {
    this.#toUp.delete(id);
  }

  upIdOf(clientId: JsonRpcId): number | undefined {
    return this.#upByClient.get(idKey(clientId));
  }

  /** Removes a forwarded request (answered, timed out, cancelled) and its deadline. */
  takeUp(id: number): UpPending | undefined {
    const pending = this.#toUp.get(id);
    this.#toUp.delete(id);
    const deadline = this.#deadlines.get(id);
    if (deadline !== undefined) clearTimeout(deadline);
    this.#deadlines.delete(id);
    return pending;
  }

  /** Removes every forwarded request (the server is gone), with their ids. */
  takeAllUp(): (readonly [number, UpPending])[] {
    const taken: (readonly [number, UpPending])[] = [];
    for (const id of [...this.#toUp.keys()]) {
      const pending = this.takeUp(id);
      if (pending !== undefined) taken.push([id, pending]);
    }
    this.#upByClient.clear();
    this.#progress.clear();
    this.#taskProgress.clear();
    return taken;
  }

  forgetClient(clientId: JsonRpcId): void {
    this.#upByClient.delete(idKey(clientId));
    this.forgetProgress(clientId);
  }

  /**
   * Takes the progress token of a client request arriving (from its arrival, not from its
   * forwarding, so a call still being decided holds its token): false when a request still in
   * flight holds it already. Two calls under one token would have the first's progress go to
   * the second (on HTTP, to the wrong POST stream); the second is refused (session.ts).
   */
  claimProgress(token: unknown, clientId: JsonRpcId): boolean {
    if (typeof token !== 'string' && typeof token !== 'number') return true;
    const key = idKey(token);
    if (this.#progress.has(key)) return false;
    this.#progress.set(key, clientId);
    return true;
  }

  /** The request `clientId` is over (answered, cancelled): its progress token is free again. */
  forgetProgress(clientId: JsonRpcId): void {
    for (const [token, id] of this.#progress) {
      if (id === clientId) this.#progress.delete(token);
    }
  }

  /**
   * The request `clientId` was answered with a task (MCP tasks): its progress token stays valid
   * until the task ends, so the server's progress for it still reaches the client.
   */
  keepProgressForTask(clientId: JsonRpcId, taskId: string): void {
    for (const [token, id] of this.#progress) {
      if (id === clientId) this.#taskProgress.set(token, taskId);
    }
  }

  /** Task `taskId` is over (its result fetched, or a terminal status): its progress token is stale. */
  endTask(taskId: string): void {
    for (const [token, id] of this.#taskProgress) {
      if (id === taskId) this.#taskProgress.delete(token);
    }
  }

  /** True when a request in flight, or a task still running, holds the progress token. */
  progressHeld(token: unknown): boolean {
    if (typeof token !== 'string' && typeof token !== 'number') return false;
    const key = idKey(token);
    return this.#progress.has(key) || this.#taskProgress.has(key);
  }

  /** The client request a progress token belongs to. */
  progressOf(token: unknown): JsonRpcId | undefined {
    return typeof token === 'string' || typeof token === 'number'
      ? this.#progress.get(idKey(token))
      : undefined;
  }

  /** The newest client request still in flight (a stream a server message can ride on). */
  newestClientRequest(): JsonRpcId | undefined {
    let newest: JsonRpcId | undefined;
    for (const pending of this.#toUp.values()) {
      if (pending.kind !== 'internal') newest = pending.clientId;
    }
    return newest;
  }

  /** Records a server request passed to the client; returns the id the client sees. */
  passedDown(pending: DownPending): number {
    const id = this.#nextDown++;
    this.#toDown.set(id, pending);
    this.#downByServer.set(idKey(pending.serverId), id);
    return id;
  }

  /** How many server requests wait for the client's answer. */
  downInFlight(): number {
    return this.#toDown.size;
  }

  takeDown(id: number): DownPending | undefined {
    const pending = this.#toDown.get(id);
    if (pending === undefined) return undefined;
    this.#toDown.delete(id);
    this.#downByServer.delete(idKey(pending.serverId));
    return pending;
  }

  /** A server request the server cancelled, with the id the client saw; forgotten. */
  takeDownByServer(serverId: JsonRpcId): { readonly id: number; readonly pending: DownPending } | undefined {
    const id = this.#downByServer.get(idKey(serverId));
    if (id === undefined) return undefined;
    const pending = this.takeDown(id);
    return pending === undefined ? undefined : { id, pending };
  }

  /** Every server request still waiting on the client, forgotten (the server is gone). */
  takeAllDown(): DownPending[] {
    const taken = [...this.#toDown.values()];
    this.#toDown.clear();
    this.#downByServer.clear();
    return taken;
  }
}
