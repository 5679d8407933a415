import { idKey, type JsonRpcId } from './jsonrpc.js';
import type { ReadyGate } from './ready-gate.js';

interface Waiting<T> {
  readonly value: T;
  withdrawn: boolean;
}

/**
 * Work of client requests held at the ready gate while the server is
 * (re)starting, by the client's request id: a client request before its
 * checks run (session.ts), or a decided tools/call before it is sent
 * (session-tool-calls.ts). A cancel that arrives meanwhile withdraws it:
 * then it neither runs nor is refused here, whatever the gate does next.
 */
export class WaitingRequests<T> {
  readonly #waiting = new Map<string, Waiting<T>>();

  constructor(private readonly gate: ReadyGate) {}

  /** Runs `run` once the server is up (now, when it is), or `refuse` if the session closes, unless withdrawn first. */
  hold(id: JsonRpcId, value: T, run: () => void, refuse: (reason: string) => void): void {
    const key = idKey(id);
    const waiting: Waiting<T> = { value, withdrawn: false };
    this.#waiting.set(key, waiting);
    // A later request reusing the id replaces this entry in the map; this one still runs or is refused.
    const stillWanted = (): boolean => {
      if (this.#waiting.get(key) === waiting) this.#waiting.delete(key);
      return !waiting.withdrawn;
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

  /** Takes back what waits under this id, so it never runs; undefined when nothing does. */
  withdraw(id: JsonRpcId): T | undefined {
    const key = idKey(id);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return undefined;
    this.#waiting.delete(key);
    waiting.withdrawn = true;
    return waiting.value;
  }
}
