/**
 * How many `--http` sessions may exist at once (Streamable HTTP and legacy
 * SSE together). Every session runs its own server process, and sessions
 * are not authenticated, so without a bound any local client could start
 * sandboxed servers until the host runs out of memory. A slot is taken
 * before the server starts and given back when the session ends, whatever
 * ends it (DELETE, idle timeout, a refused initialize, the server failing).
 */
export class SessionSlots {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes a slot; the caller must `give()` it back exactly once. False when all are in use. */
  take(): boolean {
    if (this.#used >= this.limit) return false;
    this.#used++;
    return true;
  }

  give(): void {
    this.#used = Math.max(0, this.#used - 1);
  }

  /** The refusal a client gets when no slot is free. */
  get refusal(): string {
    return `too many sessions: this bridge serves at most ${this.limit} at once, each with its own server (end one with DELETE, or raise --max-sessions)`;
  }
}

/** Sessions an `--http` bridge serves at once unless `--max-sessions` says otherwise. */
export const DEFAULT_MAX_SESSIONS = 32;
