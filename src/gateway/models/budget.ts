import type {
  Reservation as EngineReservation,
  QuotaEngine,
  QuotaRequest,
} from '../../airlock/quota/engine.js';
import type { BucketShape } from '../../store/types.js';
import { BudgetCommits } from './budget-commits.js';

/** Per-agent spending limits from `models.budgets` (each agent's own, its descendants' spending included). */
export interface BudgetLimits {
  readonly tokensPerHour?: number;
  readonly tokensPerDay?: number;
  /** Micro-USD per day. */
  readonly costPerDayMicros?: number;
}

interface Window {
  /** The bucket's name under the agent's key. */
  readonly name: string;
  /** What a refusal names: the config field that sets the limit. */
  readonly field: string;
  readonly label: string;
  readonly shape: BucketShape;
  readonly unit: 'tokens' | 'cost';
}

/** What a reservation holds, to be settled (or kept whole if the gateway dies first). */
export interface Reservation {
  readonly tokens: number;
  readonly costMicros: number;
  /** The engine's reservation of the token buckets, and of the cost buckets. */
  readonly tokenParts: EngineReservation;
  readonly costParts: EngineReservation;
}

export type BudgetVerdict =
  | { readonly effect: 'allow'; readonly reason: string; readonly reservation: Reservation }
  | {
      readonly effect: 'deny';
      readonly reason: string;
      /** The quota that refused, as configured (e.g. `models.budgets.tokens_per_hour`). */
      readonly quota: string;
      /** Seconds until the amount fits again; absent when waiting would not help. */
      readonly retryAfterSeconds?: number;
    };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A batch's one-unit bucket: taken with its reservation, given back with its settlement, never refilled. */
function markerRequest(marker: string, amount: number): QuotaRequest {
  return {
    key: `batch:${marker}:unsettled`,
    quota: 'models.batch',
    label: 'one settlement per batch',
    shape: { capacity: 1, refill: 0, windowMs: DAY },
    amount,
  };
}

/**
 * Model spending as buckets of the one quota engine (SQLite for one gateway,
 * PostgreSQL shared by several), so a restart or a second gateway never hands
 * out a fresh budget: `tokens_per_hour` is a bucket of that many tokens that
 * refills continuously over the hour. A call reserves its input estimate plus
 * its whole output cap before it is sent, on the agent and on every ancestor
 * (a child spends from its parent's budget), all buckets or none; settling
 * gives back what the provider's usage did not need. A crash between the two
 * leaves the whole reservation spent: the budget is never credited without a
 * record. A store that cannot answer is a refusal.
 */
export class ModelBudget {
  readonly #windows: readonly Window[];
  /** Reservations and settlements of concurrent calls, one store transaction per batch. */
  readonly #commits: BudgetCommits;

  constructor(
    private readonly engine: QuotaEngine,
    limits: BudgetLimits,
  ) {
    this.#commits = new BudgetCommits(engine);
    const windows: Window[] = [];
    const shape = (limit: number, windowMs: number): BucketShape => ({
      capacity: limit,
      refill: limit,
      windowMs,
    });
    if (limits.tokensPerHour !== undefined)
      windows.push({
        name: 'llm_tokens_per_hour',
        field: 'models.budgets.tokens_per_hour',
        label: `${limits.tokensPerHour} tokens/hour`,
        shape: shape(limits.tokensPerHour, HOUR),
        unit: 'tokens',
      });
    if (limits.tokensPerDay !== undefined)
      windows.push({
        name: 'llm_tokens_per_day',
        field: 'models.budgets.tokens_per_day',
        label: `${limits.tokensPerDay} tokens/day`,
        shape: shape(limits.tokensPerDay, DAY),
        unit: 'tokens',
      });
    if (limits.costPerDayMicros !== undefined)
      windows.push({
        name: 'llm_cost_micro_usd_per_day',
        field: 'models.budgets.cost_per_day_usd',
        label: `${(limits.costPerDayMicros / 1e6).toFixed(2)} USD/day`,
        shape: shape(limits.costPerDayMicros, DAY),
        unit: 'cost',
      });
    this.#windows = windows;
  }

  get limitsCost(): boolean {
    return this.#windows.some((window) => window.unit === 'cost');
  }

  /** The engine key of one agent's bucket. */
  static key(agent: string, window: string): string {
    return `agent:${agent}:${window}`;
  }

  /** Tokens `lineage` (the agent, then its ancestors) could take now in every token bucket; Infinity without limits. */
  async remainingTokens(
    lineage: readonly string[],
    options: { readonly settled?: boolean } = {},
  ): Promise<number> {
    // By default the reading waits for the settlements already submitted; a gauge can skip that.
    if (options.settled !== false) await this.#commits.settled();
    let remaining = Number.POSITIVE_INFINITY;
    for (const window of this.#windows.filter((w) => w.unit === 'tokens')) {
      for (const subject of lineage) {
        const usage = await this.engine.usage(ModelBudget.key(subject, window.name), window.shape);
        remaining = Math.min(remaining, usage.available);
      }
    }
    return Math.max(0, remaining);
  }

  async reserve(lineage: readonly string[], tokens: number, costMicros: number): Promise<BudgetVerdict> {
    return this.#reserve(lineage, tokens, costMicros, []);
  }

  /**
   * A batch's reservation: as `reserve`, plus the one unit of the batch's own
   * bucket (`marker`, its batch id) in the same transaction. `settleMarked`
   * gives that unit back in the transaction that settles the batch, so after
   * a crash `markedSettled` says whether the settlement was written: a batch
   * is settled exactly once, never twice and never lost.
   */
  reserveMarked(
    lineage: readonly string[],
    tokens: number,
    costMicros: number,
    marker: string,
  ): Promise<BudgetVerdict> {
    return this.#reserve(lineage, tokens, costMicros, [markerRequest(marker, 1)]);
  }

  /** Settles a marked reservation whole, in one transaction with its marker: charged `tokens` and `costMicros`. */
  async settleMarked(
    reservation: Reservation,
    tokens: number,
    costMicros: number,
    marker: string,
  ): Promise<void> {
    const moves = [
      ...reservation.tokenParts.parts.map((part) => ({ ...part, amount: part.amount - tokens })),
      ...reservation.costParts.parts.map((part) => ({ ...part, amount: part.amount - costMicros })),
      markerRequest(marker, 1),
    ].filter((move) => move.amount !== 0);
    this.#commits.flush();
    await this.engine.settle({ parts: moves }, 0);
  }

  /** Whether the marked reservation `marker` has been settled (a pruned marker bucket was). */
  async markedSettled(marker: string): Promise<boolean> {
    const request = markerRequest(marker, 1);
    return (await this.engine.usage(request.key, request.shape)).used <= 0;
  }

  async #reserve(
    lineage: readonly string[],
    tokens: number,
    costMicros: number,
    extra: readonly QuotaRequest[],
  ): Promise<BudgetVerdict> {
    const requests: QuotaRequest[] = this.#windows.flatMap((window) =>
      lineage.map((subject) => ({
        key: ModelBudget.key(subject, window.name),
        quota: window.field,
        label: window.label,
        shape: window.shape,
        amount: window.unit === 'tokens' ? tokens : costMicros,
      })),
    );
    if (requests.length === 0 && extra.length === 0) {
      // No window is configured: nothing to take, so no transaction to make.
      const none = { parts: [] };
      return {
        effect: 'allow',
        reason: 'no model budget is configured',
        reservation: { tokens, costMicros, tokenParts: none, costParts: none },
      };
    }
    const admission = await this.#commits.reserve([...requests, ...extra]);
    if (!admission.ok) {
      const { refusal } = admission;
      return {
        effect: 'deny',
        quota: refusal.quota,
        reason: refusal.reason,
        ...(refusal.retryAfterMs === undefined
          ? {}
          : { retryAfterSeconds: Math.ceil(refusal.retryAfterMs / 1000) }),
      };
    }
    const tokenKeys = new Set(this.#keys(lineage, 'tokens'));
    const extraKeys = new Set(extra.map((request) => request.key));
    const parts = admission.reservation.parts.filter((part) => !extraKeys.has(part.key));
    return {
      effect: 'allow',
      reason: 'within the model budgets',
      reservation: {
        tokens,
        costMicros,
        tokenParts: { parts: parts.filter((part) => tokenKeys.has(part.key)) },
        costParts: { parts: parts.filter((part) => !tokenKeys.has(part.key)) },
      },
    };
  }

  /** Settles on what the provider reported: the unused part goes back; an overrun is charged as it is. */
  async settle(reservation: Reservation, tokens: number, costMicros: number): Promise<void> {
    await this.#settle(reservation, tokens, costMicros, (parts, actual) =>
      this.#commits.settle(parts, actual),
    );
  }

  /**
   * As `settle`, for a caller that does not wait for it (an answered call): held until the next
   * reservation or reading of the budgets, at most SETTLEMENT_HOLD_MS, so it shares that
   * transaction (src/gateway/models/budget-commits.ts). Every later reservation still sees it.
   */
  async settleLater(reservation: Reservation, tokens: number, costMicros: number): Promise<void> {
    await this.#settle(reservation, tokens, costMicros, (parts, actual) =>
      this.#commits.settleLater(parts, actual),
    );
  }

  async #settle(
    reservation: Reservation,
    tokens: number,
    costMicros: number,
    submit: (parts: EngineReservation, actual: number) => Promise<void>,
  ): Promise<void> {
    await Promise.all([
      reservation.tokenParts.parts.length > 0 ? submit(reservation.tokenParts, tokens) : undefined,
      reservation.costParts.parts.length > 0 ? submit(reservation.costParts, costMicros) : undefined,
    ]);
  }

  /** Resolves when every settlement submitted so far is written (the gateway waits for it before closing its store). */
  settled(): Promise<void> {
    return this.#commits.settled();
  }

  /** Gives a reservation back whole (nothing was sent). */
  async release(reservation: Reservation): Promise<void> {
    this.#commits.flush();
    if (reservation.tokenParts.parts.length > 0) await this.engine.release(reservation.tokenParts);
    if (reservation.costParts.parts.length > 0) await this.engine.release(reservation.costParts);
  }

  #keys(lineage: readonly string[], unit: Window['unit']): string[] {
    return this.#windows
      .filter((window) => window.unit === unit)
      .flatMap((window) => lineage.map((subject) => ModelBudget.key(subject, window.name)));
  }
}
