import type { QuotaCounterRepo } from '../../store/types.js';

/** Per-agent spending windows from `models.budgets` (each agent's own, its descendants' spending included). */
export interface BudgetLimits {
  readonly tokensPerHour?: number;
  readonly tokensPerDay?: number;
  /** Micro-USD per day. */
  readonly costPerDayMicros?: number;
}

interface Window {
  readonly resource: string;
  /** What a refusal names: the config field that sets the limit. */
  readonly field: string;
  readonly spanMs: number;
  readonly limit: number;
  readonly unit: 'tokens' | 'cost';
}

interface Hold {
  readonly subject: string;
  readonly resource: string;
  readonly windowStart: number;
  readonly amount: number;
}

/** What a reservation holds, to be settled (or kept whole if the gateway dies first). */
export interface Reservation {
  readonly tokens: number;
  readonly costMicros: number;
  readonly holds: readonly Hold[];
}

export type BudgetVerdict =
  | { readonly effect: 'allow'; readonly reason: string; readonly reservation: Reservation }
  | {
      readonly effect: 'deny';
      readonly reason: string;
      /** The quota that refused, as configured (e.g. `models.budgets.tokens_per_hour`). */
      readonly quota: string;
      /** Seconds until the window that refused starts over; absent when waiting would not help. */
      readonly retryAfterSeconds?: number;
    };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Model spending against fixed windows kept in the store's quota counters
 * (SQLite for one gateway, PostgreSQL shared by several), so a restart or a
 * second gateway never hands out a fresh budget. A call reserves its input
 * estimate plus its whole output cap before it is sent, on the agent and on
 * every ancestor (a child spends from its parent's budget); settling gives
 * back what the provider's usage did not need. A crash between the two leaves
 * the whole reservation spent: the budget is never credited without a record.
 * Any store error is a refusal.
 */
export class ModelBudget {
  readonly #windows: readonly Window[];
  readonly #now: () => number;

  constructor(
    private readonly counters: QuotaCounterRepo,
    limits: BudgetLimits,
    now: () => number = Date.now,
  ) {
    this.#now = now;
    const windows: Window[] = [];
    if (limits.tokensPerHour !== undefined)
      windows.push({
        resource: 'llm_tokens/hour',
        field: 'models.budgets.tokens_per_hour',
        spanMs: HOUR,
        limit: limits.tokensPerHour,
        unit: 'tokens',
      });
    if (limits.tokensPerDay !== undefined)
      windows.push({
        resource: 'llm_tokens/day',
        field: 'models.budgets.tokens_per_day',
        spanMs: DAY,
        limit: limits.tokensPerDay,
        unit: 'tokens',
      });
    if (limits.costPerDayMicros !== undefined)
      windows.push({
        resource: 'llm_cost_micro_usd/day',
        field: 'models.budgets.cost_per_day_usd',
        spanMs: DAY,
        limit: limits.costPerDayMicros,
        unit: 'cost',
      });
    this.#windows = windows;
  }

  get limitsCost(): boolean {
    return this.#windows.some((window) => window.unit === 'cost');
  }

  /** Tokens still available to `lineage` (the agent, then its ancestors) in every token window; Infinity without limits. */
  async remainingTokens(lineage: readonly string[]): Promise<number> {
    let remaining = Number.POSITIVE_INFINITY;
    const now = this.#now();
    for (const window of this.#windows.filter((w) => w.unit === 'tokens')) {
      const start = windowStart(now, window.spanMs);
      for (const subject of lineage) {
        const used = await this.counters.used(subject, window.resource, start);
        remaining = Math.min(remaining, window.limit - used);
      }
    }
    return Math.max(0, remaining);
  }

  async reserve(lineage: readonly string[], tokens: number, costMicros: number): Promise<BudgetVerdict> {
    const holds: Hold[] = [];
    const now = this.#now();
    try {
      for (const window of this.#windows) {
        const amount = window.unit === 'tokens' ? tokens : costMicros;
        const start = windowStart(now, window.spanMs);
        for (const [depth, subject] of lineage.entries()) {
          const result = await this.counters.consume({
            subject,
            resource: window.resource,
            windowStart: start,
            amount,
            limit: window.limit,
          });
          if (!result.allowed) {
            await this.#release(holds);
            const whose = depth === 0 ? 'the agent' : `its ancestor ${subject}`;
            const what = window.unit === 'tokens' ? `${amount} tokens` : `${(amount / 1e6).toFixed(6)} USD`;
            return {
              effect: 'deny',
              quota: window.field,
              reason: `quota ${window.field} exceeded for ${whose}: ${result.used} of ${window.limit} used, ${what} asked`,
              ...(amount <= window.limit
                ? { retryAfterSeconds: Math.ceil((start + window.spanMs - now) / 1000) }
                : {}),
            };
          }
          holds.push({ subject, resource: window.resource, windowStart: start, amount });
        }
      }
    } catch (error) {
      await this.#release(holds).catch(() => undefined);
      return {
        effect: 'deny',
        quota: 'models.budgets',
        reason: `the quota store could not answer, so the call is refused: ${(error as Error).message}`,
      };
    }
    return {
      effect: 'allow',
      reason: 'within the model budgets',
      reservation: { tokens, costMicros, holds },
    };
  }

  /** Settles on what the provider reported: the unused part goes back; an overrun is charged as it is. */
  async settle(reservation: Reservation, tokens: number, costMicros: number): Promise<void> {
    for (const hold of reservation.holds) {
      const window = this.#windows.find((w) => w.resource === hold.resource);
      if (window === undefined) continue;
      const actual = window.unit === 'tokens' ? tokens : costMicros;
      if (actual < hold.amount) {
        await this.counters.release(hold.subject, hold.resource, hold.windowStart, hold.amount - actual);
      } else if (actual > hold.amount) {
        // The provider spent more than it was allowed to: charged all the same (the next call is refused).
        await this.counters.consume({
          subject: hold.subject,
          resource: hold.resource,
          windowStart: hold.windowStart,
          amount: actual - hold.amount,
          limit: Number.MAX_SAFE_INTEGER,
        });
      }
    }
  }

  async #release(holds: readonly Hold[]): Promise<void> {
    for (const hold of holds) {
      await this.counters.release(hold.subject, hold.resource, hold.windowStart, hold.amount);
    }
  }
}

function windowStart(now: number, spanMs: number): number {
  return Math.floor(now / spanMs) * spanMs;
}
