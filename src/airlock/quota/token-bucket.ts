import type { Clock } from './clock.js';

/**
 * A token bucket: holds up to `capacity` tokens, refills continuously at
 * `refillPerMs`, and starts full. Taking more than is there is refused
 * outright (a hard cutoff, no queueing); the caller decides whether to wait.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    private readonly refillPerMs: number,
    private readonly clock: Clock,
  ) {
    this.tokens = capacity;
    this.updatedAt = clock();
  }

  available(): number {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.refillPerMs);
    this.updatedAt = now;
    return this.tokens;
  }

  /** Takes `amount` tokens if all are there; otherwise takes none. */
  tryTake(amount: number): boolean {
    if (this.available() < amount) return false;
    this.tokens -= amount;
    return true;
  }

  /** Milliseconds until `amount` tokens will be there; Infinity if never. */
  msUntil(amount: number): number {
    const missing = amount - this.available();
    if (missing <= 0) return 0;
    if (amount > this.capacity || this.refillPerMs <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(missing / this.refillPerMs);
  }
}
