import type { Admission, QuotaEngine, QuotaRequest, Reservation } from '../../airlock/quota/engine.js';
import { GroupCommit } from '../../log/group-commit.js';

/** One event-loop turn: the store's commits block the thread, so this is when concurrent calls gather. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Settlement {
  readonly reservation: Reservation;
  readonly actual: number;
}

/**
 * Group commit of model-budget writes on the quota engine: the reservations
 * (and, separately, the settlements) of calls that arrive together are
 * written in one store transaction, one fsync for the lot, instead of one
 * each. Each call's answer is its own: a merged reservation is tried only
 * when the sum fits every bucket, and if it is refused anyway each call is
 * reserved alone, in arrival order, with its own all-or-none refusal. Every
 * caller still waits until its write is durable, so nothing is sent upstream
 * on a reservation a crash could take back, and a crash before a settlement
 * leaves the whole reservation spent.
 */
export class BudgetCommits {
  readonly #reserves: GroupCommit<readonly QuotaRequest[], Admission>;
  readonly #settles: GroupCommit<Settlement, undefined>;
  /** Settles once every settlement submitted so far is in the store. */
  #lastSettle: Promise<void> = Promise.resolve();

  constructor(private readonly engine: QuotaEngine) {
    this.#reserves = new GroupCommit((items) => this.#reserveAll(items), 256, nextTurn);
    this.#settles = new GroupCommit((items) => this.#settleAll(items), 1024, nextTurn);
  }

  reserve(requests: readonly QuotaRequest[]): Promise<Admission> {
    return this.#reserves.submit(requests);
  }

  async settle(reservation: Reservation, actual: number): Promise<void> {
    const done = this.#settles.submit({ reservation, actual });
    this.#lastSettle = done.then(
      () => undefined,
      () => undefined,
    );
    await done;
  }

  /**
   * Resolves when every settlement submitted before this call is written: a
   * reading of what is left then counts the calls that already answered.
   */
  settled(): Promise<void> {
    return this.#lastSettle;
  }

  async #reserveAll(items: (readonly QuotaRequest[])[]): Promise<Admission[]> {
    const [only] = items;
    if (items.length === 1 && only !== undefined) return [await this.engine.reserve(only)];
    const merged = mergeByKey(items.flat());
    if (await this.#fits(merged)) {
      const together = await this.engine.reserve(merged);
      if (together.ok) return items.map((parts) => ({ ok: true, reservation: { parts } }));
    }
    // Near a limit: each call on its own, so each gets exactly the answer it would have got alone.
    const answers: Admission[] = [];
    for (const parts of items) answers.push(await this.engine.reserve(parts));
    return answers;
  }

  /** Whether every merged amount fits its bucket now (a read: no refusal is counted for a merge). */
  async #fits(merged: readonly QuotaRequest[]): Promise<boolean> {
    for (const request of merged) {
      if (request.amount > request.shape.capacity) return false;
      const usage = await this.engine.usage(request.key, request.shape);
      if (usage.available < request.amount) return false;
    }
    return true;
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
