import { idKey, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js';
import type { ReadyGate } from './ready-gate.js';

interface Waiting {
  readonly request: JsonRpcRequest;
  cancelled: boolean;
}

/**
 * Client requests that arrived while the server was (re)starting, by id,
 * until the gate opens. A cancel that arrives meanwhile takes the request
 * back: it is never run, so never checked nor forwarded.
 */
export class WaitingRequests {
  readonly #waiting = new Map<string, Waiting>();

  constructor(private readonly gate: ReadyGate) {}

  /** Runs `run` once the server is up (now, when it is), unless the request is withdrawn first. */
  hold(request: JsonRpcRequest, run: () => void, refuse: (reason: string) => void): void {
    const key = idKey(request.id);
    const waiting: Waiting = { request, cancelled: false };
    this.#waiting.set(key, waiting);
    const stillWanted = (): boolean => {
      if (this.#waiting.get(key) === waiting) this.#waiting.delete(key);
      return !waiting.cancelled;
    };
    this.gate.when(
      () => {
        if (stillWanted()) run();
      },
      (reason) => {
        if (stillWanted()) refuse(reason);
      },
    );
  }

  /** Takes back the request of this id if it still waits; undefined when none does. */
  withdraw(id: JsonRpcId): JsonRpcRequest | undefined {
    const key = idKey(id);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return undefined;
    this.#waiting.delete(key);
    waiting.cancelled = true;
    return waiting.request;
  }
}
