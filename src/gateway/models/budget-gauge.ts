import type { Gauge } from '../observability/metric-family.js';
import type { ModelBudget } from './budget.js';

/** Least time between two readings of one agent's budgets for its gauge. */
export const GAUGE_INTERVAL_MS = 200;

/** Whose budget gauge a settlement moves: the agent (its did and name) and its lineage. */
export interface GaugedAgent {
  readonly did: string;
  readonly name: string;
  readonly lineage: readonly string[];
}

/**
 * `oacp_llm_budget_remaining_tokens`, read from the budgets after settlements.
 * A reading is a store transaction, and it was one per call when calls came
 * one at a time: now an agent's settlement starts a reading at once when none
 * ran in the last `intervalMs`, and the settlements that come while one runs
 * or in the interval after it are counted by one more reading at the end of
 * that interval, not one each. So the gauge is at most `intervalMs` plus a
 * reading behind the store, and always ends on a reading made after the last
 * settlement. It is a metric, never a check: reservations read the budgets
 * themselves.
 */
export class BudgetGauge {
  /** Agents being read or in their interval after a reading, and whether a settlement came meanwhile. */
  readonly #reads = new Map<string, boolean>();

  constructor(
    private readonly budget: Pick<ModelBudget, 'remainingTokens'>,
    private readonly gauge: Gauge,
    private readonly intervalMs: number = GAUGE_INTERVAL_MS,
  ) {}

  /** A settlement of `agent` was written (or failed): its gauge is read again, soon. */
  async settled(agent: GaugedAgent): Promise<void> {
    if (this.#reads.has(agent.did)) {
      this.#reads.set(agent.did, true);
      return;
    }
    try {
      for (;;) {
        // Set before the reading: a settlement that comes during it may not be counted by it.
        this.#reads.set(agent.did, false);
        // This call's own settlement is written; others' in flight need not be waited for by a gauge.
        const remaining = await this.budget
          .remainingTokens(agent.lineage, { settled: false })
          .catch(() => undefined);
        if (remaining !== undefined && Number.isFinite(remaining))
          this.gauge.set({ agent: agent.name }, remaining);
        await pause(this.intervalMs);
        if (this.#reads.get(agent.did) !== true) return;
      }
    } finally {
      this.#reads.delete(agent.did);
    }
  }
}

/** A wait that keeps no process alive (a gateway closing does not wait for a gauge). */
function pause(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
}
