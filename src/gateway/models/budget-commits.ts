import type { Admission, QuotaEngine, QuotaRequest, Reservation } from '../../airlock/quota/engine.js';
import { GroupCommit } from '../../log/group-commit.js';

/**
 * How long settlements gather before they are written: nothing waits for them but a reading of
 * what is left, and one transaction (one fdatasync) then serves every call
 * that answered in the meantime instead of one or two.
 */
const SETTLE_GATHER_MS = 20;
const settleGather = () => new Promise<void>((resolve) => setTimeout(resolve, SETTLE_GATHER_MS));

interface Settlement {
  readonly reservation: Reservation;
  readonly actual: number;
}

/**
 * How model-budget writes reach the quota engine in few transactions.
 *
 * Reservations go straight to the engine: its group commit
 * (src/airlock/quota/group-commit.ts) already gathers the calls of one turn of
 * the event loop, and those arriving while a transaction and its fdatasync run,
 * into one transaction, each in its own savepoint with the answer it would get
 * alone. (A second one-turn wait here only added a turn of latency to every
 * call.) Every caller waits until its reservation is durable, so nothing is
 * sent upstream on a reservation a crash could take back.
 *
 * Settlements give back what a call did not use. They are gathered for
 * SETTLE_GATHER_MS and written together, the moves of one bucket summed; a call's answer
 * does not wait for its settlement (a crash before it leaves the whole
 * reservation spent: the budget is never credited without a record), and
 * `settled()` lets a reading of what is left wait for those already submitted.
 */
export class BudgetCommits {
  readonly #settles: GroupCommit<Settlement, undefined>;
  /** Settles once every settlement submitted so far is in the store. */
  #lastSettle: Promise<void> = Promise.resolve();

  constructor(private readonly engine: QuotaEngine) {
    this.#settles = new GroupCommit((items) => this.#settleAll(items), 1024, settleGather);
  }

  reserve(requests: readonly QuotaRequest[]): Promise<Admission> {
    return this.engine.reserve(requests);
  }

  settle(reservation: Reservation, actual: number): Promise<void> {
    const done = this.#settles.submit({ reservation, actual });
    this.#lastSettle = done.then(
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

  async #settleAll(items: Settlement[]): Promise<undefined[]> {
    // Each part moves by (reserved - actual); the moves of one bucket add up, applied in one transaction.
    const moves = mergeByKey(
      items.flatMap(({ reservation, actual }) =>
        reservation.parts.map((part) => ({ ...part, amount: part.amount - actual })),
      ),
    ).filter((move) => move.amount !== 0);
    if (moves.length > 0) await this.engine.settle({ parts: moves }, 0);
    return items.map(() => undefined);
  }
}

/** The requests summed per bucket key (a key always carries the same quota and shape). */
function mergeByKey(requests: readonly QuotaRequest[]): QuotaRequest[] {
  const byKey = new Map<string, QuotaRequest>();
  for (const request of requests) {
    const seen = byKey.get(request.key);
    byKey.set(request.key, seen === undefined ? request : { ...seen, amount: seen.amount + request.amount });
  }
  return [...byKey.values()];
}
