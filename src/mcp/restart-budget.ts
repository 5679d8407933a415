/** Backoff for restarting a server that went away. */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failed starts (a start the server did not survive to answer) before the session gives up. */
  readonly maxAttempts: number;
}

export const DEFAULT_RESTART: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: 8 };

/**
 * Counts restarts across the whole session, not per outage: a server that
 * starts and dies at once is one failed attempt each time, so the documented
 * 8 attempts with doubling delays bound it. Only a sign of life (the server
 * answered a request) gives the budget back.
 */
export class RestartBudget {
  readonly #policy: RestartPolicy;
  #failures = 0;

  constructor(policy: RestartPolicy) {
    this.#policy = policy;
  }

  /** The server answered something: it is up, and the next outage starts a fresh count. */
  alive(): void {
    this.#failures = 0;
  }

  /** Takes one attempt; undefined when the budget is spent, else the delay to wait before it. */
  next(): { readonly attempt: number; readonly delayMs: number } | undefined {
    if (this.#failures >= this.#policy.maxAttempts) return undefined;
    const attempt = ++this.#failures;
    const delayMs = Math.min(this.#policy.initialDelayMs * 2 ** (attempt - 1), this.#policy.maxDelayMs);
    return { attempt, delayMs };
  }

  get attempts(): number {
    return this.#failures;
  }
}
