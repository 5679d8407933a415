/**
 * Bytes of request bodies a listener is reading at once, over every connection. Each body is
 * bounded on its own, but clients that each dribble one (a chunked body that never ends holds its
 * socket up to the server's requestTimeout) were not: a few hundred connections of the largest
 * body grew a process by gigabytes. Past the bound a body is refused as it arrives (503), and
 * what a body took is given back once it is read or refused. One per listener (the bridge's
 * `--http`, the gateway's app), never shared through module state.
 */
export class BodyBytes {
  #held = 0;
  constructor(readonly limit: number) {}

  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }

  /** What bodies being read hold now (for tests and metrics). */
  get held(): number {
    return this.#held;
  }
}
