import type { Admission, QuotaEngine, QuotaRequest, Reservation } from '../../airlock/quota/engine.js';

/**
 * Longest a background settlement is held for the next reservation to carry it into the store:
 * bounds how long the budget (and another gateway sharing the store) sees the whole reservation
 * still spent, the safe side.
 */
export const SETTLEMENT_HOLD_MS = 10;

interface Held {
  readonly reservation: Reservation;
  readonly actual: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * How model-budget writes reach the quota engine.
 *
 * Reservations and settlements go through the engine's one group commit
 * (src/airlock/quota/group-commit.ts): the items of one turn of the event
 * loop, and those arriving while a transaction and its fdatasync run, share
 * one transaction, applied in the order they were submitted. So a settlement
 * (what a call really used) is in the store before any reservation submitted
 * after it is decided: a call that used more than its estimate is charged
 * before the next call is admitted, however slow the store is. Every caller
 * waits until its reservation is durable, so nothing is sent upstream on a
 * reservation a crash could take back. A call's answer does not wait for its
 * settlement (a crash before it leaves the whole reservation spent: the
 * budget is never credited without a record), and `settled()` lets a reading
 * of what is left wait for those already submitted.
 *
 * A settlement nobody waits for (`settleLater`) is held, at most
 * SETTLEMENT_HOLD_MS, and handed to the engine just before the next write or
 * reading of the budgets: it then shares the next reservation's transaction
 * instead of making a transaction and an fdatasync of its own (one per call
 * when calls come one at a time). The order is the same as if it had been
 * submitted at once: every write here first hands over what is held.
 */
export class BudgetCommits {
  /** Settles once every settlement submitted so far is in the store. */
  #lastSettle: Promise<void> = Promise.resolve();
  #held: Held[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: QuotaEngine,
    private readonly holdMs: number = SETTLEMENT_HOLD_MS,
  ) {}

  reserve(requests: readonly QuotaRequest[]): Promise<Admission> {
    this.flush();
    return this.engine.reserve(requests);
  }

  /** Submits the settlement now (after anything held); resolves once it is written. */
  settle(reservation: Reservation, actual: number): Promise<void> {
    this.flush();
    const done = this.engine.settle(reservation, actual);
    const before = this.#lastSettle;
    // The queue is ordered, so this one's end is also the end of every earlier one.
    this.#lastSettle = Promise.all([before, done]).then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /**
   * As `settle`, held until the next write or reading (at most SETTLEMENT_HOLD_MS) so it joins
   * that transaction. Only a refund is held: an overrun (more used than reserved) is charged at
   * once, so another gateway sharing the store never decides on a balance missing it for longer.
   */
  settleLater(reservation: Reservation, actual: number): Promise<void> {
    if (reservation.parts.some((part) => actual > part.amount)) return this.settle(reservation, actual);
    return new Promise<void>((resolve, reject) => {
      this.#held.push({ reservation, actual, resolve, reject });
      if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.flush(), this.holdMs);
        // A process that ends meanwhile leaves the reservations spent (never a credit without a record).
        this.#timer.unref();
      }
    });
  }

  /** Hands every held settlement to the engine, in the order they came; call before any other write. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const item of held) this.settle(item.reservation, item.actual).then(item.resolve, item.reject);
  }

  /**
   * Resolves when every settlement submitted (or held) before this call is
   * written: a reading of what is left then counts the calls that already answered.
   */
  settled(): Promise<void> {
    this.flush();
    return this.#lastSettle;
  }
}
