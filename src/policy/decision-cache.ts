import type { PolicyDecision } from './decision.js';

/**
 * Longest request key a decision is remembered under (UTF-16 units): a request with larger
 * arguments is evaluated each time, since its key would cost more than the evaluation it saves,
 * and a cache of `capacity` such keys could hold `capacity` request bodies (a 1 MiB argument per entry).
 */
export const MAX_DECISION_KEY_CHARS = 4096;

/**
 * The decisions of one policy set by request key, least recently used forgotten first (Cedar is
 * deterministic over a request, and OACP puts no clock in one). Keys longer than
 * MAX_DECISION_KEY_CHARS are never stored.
 */
export class DecisionCache {
  readonly #entries = new Map<string, PolicyDecision>();

  /** `capacity` decisions at most; 0 remembers none. */
  constructor(readonly capacity: number) {}

  /** How many decisions are held now. */
  get held(): number {
    return this.#entries.size;
  }

  /** The decision for `key`, evaluated by `evaluate` when none is remembered; undefined keys are not cached. */
  decide(key: string | undefined, evaluate: () => PolicyDecision): PolicyDecision {
    if (key === undefined || this.capacity === 0 || key.length > MAX_DECISION_KEY_CHARS) return evaluate();
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      // Re-inserted so the map's order stays least-recently-used first.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const decision = evaluate();
    this.#entries.set(key, decision);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return decision;
  }
}
