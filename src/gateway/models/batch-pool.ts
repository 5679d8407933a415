import type { BudgetVerdict, ModelBudget, Reservation } from './budget.js';

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
    return {
      effect: 'allow',
      reason: "drawn from the batch's reservation",
      reservation: this.#slice(tokens, costMicros),
    };
  }

  /** Gives back what no item drew. */
  async close(): Promise<void> {
    const rest = this.#slice(this.#tokens, this.#cost);
    this.#tokens = 0;
    this.#cost = 0;
    await this.budget.release(rest);
  }

  #slice(tokens: number, costMicros: number): Reservation {
    return {
      tokens,
      costMicros,
      tokenParts: { parts: this.reservation.tokenParts.parts.map((part) => ({ ...part, amount: tokens })) },
      costParts: { parts: this.reservation.costParts.parts.map((part) => ({ ...part, amount: costMicros })) },
    };
  }
}
