/** closed: calls pass; open: refused until the cooldown ends; half-open: one probe decides. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  readonly failures: number;
  readonly cooldownMs: number;
  readonly now?: () => number;
}

/**
 * A per-provider circuit breaker. After `failures` consecutive failures it
 * opens and refuses at once (the router fails over instead of waiting on a
 * provider that is down); after the cooldown exactly one call goes through as
 * a probe: success closes it, failure opens it for another cooldown.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAt = 0;
  #probing = false;
  readonly #now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.options.cooldownMs) return 'half-open';
    return this.#state;
  }

  /** Whether a call may go now; in half-open, true once (for the probe) until it reports. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.#probing) return false;
    this.#probing = true;
    this.#state = 'half-open';
    return true;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now). */
  retryInMs(): number {
    if (this.#state !== 'open') return 0;
    return Math.max(0, this.options.cooldownMs - (this.#now() - this.#openedAt));
  }

  /**
   * A call that ended with no verdict on the provider (its client went away while the provider had
   * it): a probe's turn passes to the next call. Without it the breaker waited for an outcome that
   * never came, and refused every call to the provider until the gateway restarted.
   */
  abandon(): void {
    this.#probing = false;
  }

  success(): void {
    this.#state = 'closed';
    this.#consecutive = 0;
    this.#probing = false;
  }

  failure(): void {
    this.#probing = false;
    this.#consecutive += 1;
    if (this.#state === 'half-open' || this.#consecutive >= this.options.failures) {
      this.#state = 'open';
      this.#openedAt = this.#now();
    }
  }
}
