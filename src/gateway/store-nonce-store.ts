import { openHomeNonceStore } from '../identity/home-nonce-store.js';
import { NONCE_PRUNE_GRACE_MS, type NonceStore, type NonceStoreOptions } from '../identity/nonce-store.js';
import type { RequestNonceRepo, Store } from '../store/types.js';

/**
 * Nonces kept in the gateway's store: with a PostgreSQL store every node of a
 * cluster checks one table, so a signed request accepted at one node is a
 * replay at every other for its whole window. A store that cannot answer
 * rejects, and the verifier refuses the request with that reason.
 *
 * Nodes' clocks differ. Taking over an expired row is judged by this node's
 * clock, which is safe: the same clock's timestamp check refuses that request
 * anyway. Deleting rows affects every node, so a sweep keeps rows for
 * NONCE_PRUNE_GRACE_MS past their expiry (as the home's SQLite store does):
 * a node whose clock runs ahead by less than that cannot delete a nonce
 * another node still holds live.
 */

export class StoreNonceStore implements NonceStore {
  readonly #repo: RequestNonceRepo;
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  #nextPrune = 0;

  constructor(repo: RequestNonceRepo, options: NonceStoreOptions = {}) {
    this.#repo = repo;
    this.#now = options.now ?? Date.now;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
  }

  async checkAndRemember(nonce: string, expiresAt: number): Promise<boolean> {
    const now = this.#now();
    if (now >= this.#nextPrune) {
      this.#nextPrune = now + this.#pruneIntervalMs;
      await this.#repo.prune(now - NONCE_PRUNE_GRACE_MS);
    }
    return this.#repo.remember(nonce, expiresAt, now);
  }
}

/**
 * The gateway's one nonce store: the shared table when the store is
 * PostgreSQL (a cluster, or gateways sharing one database), else the home's
 * SQLite file shared with every bridge and `oacp run` on the home.
 */
export function openGatewayNonceStore(
  store: Store,
  home: string,
): { readonly nonces: NonceStore; close(): void } {
  if (store.dialect === 'postgres')
    return { nonces: new StoreNonceStore(store.requestNonces), close: () => {} };
  const nonces = openHomeNonceStore(home);
  return { nonces, close: () => nonces.close() };
}
