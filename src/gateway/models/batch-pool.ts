import type { BudgetVerdict, ModelBudget, Reservation } from './budget.js';

const TOKENS = /^llm_tokens\//;

/**
 * A batch's budget, reserved whole before any item is sent: items draw their
 * own reservations from it (so each settles on its own usage), and what no
 * item drew is given back at the end. An item whose real cap exceeds what the
 * batch estimate left is refused rather than spending outside the batch.
 */
export class BatchPool {
  #tokens: number;
  #cost: number;

  private constructor(
    private readonly budget: ModelBudget,
    private readonly reservation: Reservation,
  ) {
    this.#tokens = reservation.tokens;
    this.#cost = reservation.costMicros;
  }

  static async reserve(
    budget: ModelBudget,
    lineage: readonly string[],
    tokens: number,
    costMicros: number,
  ): Promise<{ pool: BatchPool } | { refusal: Extract<BudgetVerdict, { effect: 'deny' }> }> {
    const verdict = await budget.reserve(lineage, tokens, costMicros);
    if (verdict.effect === 'deny') return { refusal: verdict };
    return { pool: new BatchPool(budget, verdict.reservation) };
  }

  take(tokens: number, costMicros: number): BudgetVerdict {
    if (tokens > this.#tokens || costMicros > this.#cost) {
      return {
        effect: 'deny',
        quota: 'models.batch',
        reason: `the batch's reservation has ${this.#tokens} tokens left, this item needs ${tokens}`,
      };
    }
    this.#tokens -= tokens;
    this.#cost -= costMicros;
    const holds = this.reservation.holds.map((hold) => ({
      ...hold,
      amount: TOKENS.test(hold.resource) ? tokens : costMicros,
    }));
    return {
      effect: 'allow',
      reason: "drawn from the batch's reservation",
      reservation: { tokens, costMicros, holds },
    };
  }

  /** Gives back what no item drew. */
  async close(): Promise<void> {
    const holds = this.reservation.holds.map((hold) => ({
      ...hold,
      amount: TOKENS.test(hold.resource) ? this.#tokens : this.#cost,
    }));
    this.#tokens = 0;
    this.#cost = 0;
    await this.budget.settle({ tokens: 0, costMicros: 0, holds }, 0, 0);
  }
}
