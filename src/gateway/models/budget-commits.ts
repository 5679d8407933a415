import type { Admission, QuotaEngine, QuotaRequest, Reservation } from '../../airlock/quota/engine.js';

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
 */
export class BudgetCommits {
  /** Settles once every settlement submitted so far is in the store. */
  #lastSettle: Promise<void> = Promise.resolve();

  constructor(private readonly engine: QuotaEngine) {}

  reserve(requests: readonly QuotaRequest[]): Promise<Admission> {
    return this.engine.reserve(requests);
  }

  settle(reservation: Reservation, actual: number): Promise<void> {
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
   * Resolves when every settlement submitted before this call is written: a
   * reading of what is left then counts the calls that already answered.
   */
  settled(): Promise<void> {
    return this.#lastSettle;
  }
}
