/**
 * Remembers request nonces until they expire, so a captured request cannot be
 * replayed inside its timestamp window. Past `expiresAt` the timestamp check
 * refuses the request anyway, which is what lets a store forget.
 */
export interface NonceStore {
  /**
   * True when `nonce` was not seen (or its entry has expired) and is now remembered
   * until `expiresAt` (unix ms); false when it is a replay. Must be atomic: two
   * concurrent calls with one nonce never both return true. A shared store
   * (PostgreSQL, for a cluster) answers asynchronously; a store that cannot
   * answer throws or rejects, which the verifier turns into a refusal.
   */
  checkAndRemember(nonce: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * How long past its expiry a shared store keeps a nonce before a sweep deletes it. Every process
 * (or cluster node) sharing a store sweeps by its own clock, and a deleted row is gone for all of
 * them: a process whose clock runs ahead by less than this (a host clock stepped forward and back,
 * a process under faketime, a node's drift) cannot delete a nonce the others still hold live and
 * so reopen its replay window. Taking over an expired row needs no grace: the same clock's
 * timestamp check refuses that request anyway.
 */
export const NONCE_PRUNE_GRACE_MS = 15 * 60_000;

export interface NonceStoreOptions {
  /** Clock in unix ms; injectable so tests need not wait. */
  readonly now?: () => number;
  /** How often expired entries are swept, in ms of that clock. */
  readonly pruneIntervalMs?: number;
}

/** Process-local nonce cache: right for tests and single-process use; forgets on restart. */
export class InMemoryNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>();
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  #nextPrune = 0;

  constructor(options: NonceStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
  }

  checkAndRemember(nonce: string, expiresAt: number): boolean {
    const now = this.#now();
    if (now >= this.#nextPrune) this.#prune(now);
    const known = this.#seen.get(nonce);
    if (known !== undefined && known > now) return false;
    this.#seen.set(nonce, expiresAt);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [nonce, expiresAt] of this.#seen) if (expiresAt <= now) this.#seen.delete(nonce);
    this.#nextPrune = now + this.#pruneIntervalMs;
  }
}
