import type { Amount } from './batch-item-store.js';
import type { BudgetVerdict, ModelBudget, Reservation } from './budget.js';

/**
 * A batch's budget, reserved whole before any item is sent: items draw their
 * own reservations from it, and what each is charged (its usage, or its whole
 * draw when the provider may have run it unanswered) is counted here instead
 * of settled on its own. The batch settles once when it ends, the whole
 * reservation corrected to what its items were charged, in one transaction
 * with its marker (ModelBudget.settleMarked): so a crash at any point leaves
 * the budgets holding the whole reservation or exactly the charges, and a
 * resumed batch (`resume`) knows which. An item whose cap exceeds what the
 * batch estimate left is refused rather than spending outside the batch.
 */
export class BatchPool {
  #tokens: number;
  #cost: number;
  #chargedTokens: number;
  #chargedCost: number;

  private constructor(
    private readonly budget: ModelBudget,
    /** The whole batch's reservation, as stored with the batch. */
    readonly reservation: Reservation,
    /** The batch id, whose marker the settlement gives back. */
    private readonly marker: string,
    drawn: Amount,
    charged: Amount,
  ) {
    this.#tokens = reservation.tokens - drawn.tokens;
    this.#cost = reservation.costMicros - drawn.costMicros;
    this.#chargedTokens = charged.tokens;
    this.#chargedCost = charged.costMicros;
  }

  static async reserve(
    budget: ModelBudget,
    lineage: readonly string[],
    tokens: number,
    costMicros: number,
    marker: string,
  ): Promise<{ pool: BatchPool } | { refusal: Extract<BudgetVerdict, { effect: 'deny' }> }> {
    const verdict = await budget.reserveMarked(lineage, tokens, costMicros, marker);
    if (verdict.effect === 'deny') return { refusal: verdict };
    const none = { tokens: 0, costMicros: 0 };
    return { pool: new BatchPool(budget, verdict.reservation, marker, none, none) };
  }

  /**
   * The pool of a batch that ran before a restart: what its items had drawn
   * (sent, submitted or done) is not drawn again, what the done ones were
   * charged is counted. The reservation itself is not taken again.
   */
  static resume(
    budget: ModelBudget,
    reservation: Reservation,
    marker: string,
    drawn: Amount,
    charged: Amount,
  ): BatchPool {
    return new BatchPool(budget, reservation, marker, drawn, charged);
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

  /** An item's settlement: what it is charged, counted toward the batch's one settlement. */
  charge(tokens: number, costMicros: number): void {
    this.#chargedTokens += tokens;
    this.#chargedCost += costMicros;
  }

  get charged(): Amount {
    return { tokens: this.#chargedTokens, costMicros: this.#chargedCost };
  }

  /** Settles the batch once: its reservation corrected to what its items were charged. */
  async close(): Promise<void> {
    this.#tokens = 0;
    this.#cost = 0;
    await this.budget.settleMarked(this.reservation, this.#chargedTokens, this.#chargedCost, this.marker);
  }

  /** Whether a previous process already settled this batch (its marker given back). */
  settled(): Promise<boolean> {
    return this.budget.markedSettled(this.marker);
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
