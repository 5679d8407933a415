interface Waiting {
  run(): void;
  refuse(reason: string): void;
}

/**
 * Whether the session can forward now: while the server is (re)starting,
 * work waits here; once it is up the work runs, and when the session closes
 * instead every waiting caller is told why.
 */
export class ReadyGate {
  #ready = false;
  #closing = false;
  #failure: string | undefined;
  #waiting: Waiting[] = [];

  get ready(): boolean {
    return this.#ready;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Why the session ended, when it ended by failure. */
  get failure(): string | undefined {
    return this.#failure;
  }

  fail(reason: string): void {
    this.#failure = reason;
  }

  /** Runs now when ready, refuses when closing, else waits for one of them. */
  when(run: () => void, refuse: (reason: string) => void): void {
    if (this.#ready) run();
    else if (this.#closing) refuse(this.#closeReason());
    else this.#waiting.push({ run, refuse });
  }

  /** The server is up: everything waiting runs. */
  open(): void {
    this.#ready = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const entry of waiting) entry.run();
  }

  /** The server is down for now (restarting): new work waits. */
  pause(): void {
    this.#ready = false;
  }

  /** Closing for good: false if it was already closing; everything waiting is refused. */
  close(): boolean {
    if (this.#closing) return false;
    this.#closing = true;
    this.#ready = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const entry of waiting) entry.refuse(this.#closeReason());
    return true;
  }

  #closeReason(): string {
    return this.#failure ?? 'the bridge session closed';
  }
}
