import { describeError } from '../../core/errors.js';
import type { BucketShape, QuotaBucketRow, Store } from '../../store/types.js';
import {
  type Admission,
  type BucketUsage,
  type QuotaEngine,
  type QuotaRequest,
  type Reservation,
  STORE_QUOTA,
} from './engine.js';
import { QuotaBatches } from './group-commit.js';

/** Milliseconds since the epoch: bucket state outlives the process, so its clock must too. */
export type WallClock = () => number;

const DAY_MS = 24 * 60 * 60 * 1000;

class Refused extends Error {
  constructor(readonly admission: Admission & { ok: false }) {
    super(admission.refusal.reason);
  }
}

/**
 * The quota engine on the gateway's store (SQLite for one node, PostgreSQL
 * for several). A reservation of several buckets is all or none (its own
 * savepoint); each take is one atomic SQL statement, and concurrent
 * reservations commit together in one transaction (group commit). Any store
 * failure is a refusal (`quota.store`), never an allow.
 */
export class StoreQuotaEngine implements QuotaEngine {
  /** Reservations arriving together share one transaction (src/airlock/quota/group-commit.ts). */
  private readonly group: QuotaBatches;

  constructor(
    private readonly store: Pick<Store, 'transaction' | 'quotaBuckets' | 'location'>,
    private readonly clock: WallClock = Date.now,
  ) {
    this.group = new QuotaBatches((fn) => this.store.transaction(fn));
  }

  async reserve(requests: readonly QuotaRequest[]): Promise<Admission> {
    for (const request of requests) {
      const invalid = invalidRequest(request);
      if (invalid !== undefined) return refuse(request.quota, invalid);
      if (request.amount > request.shape.capacity) {
        return refuse(
          request.quota,
          `quota ${request.quota} exceeded: limit ${request.label}; this amount never fits`,
        );
      }
    }
    const now = this.now();
    try {
      // Every reservation, of one bucket or several, goes through the batch (all-or-none per reservation).
      const result = await this.group.reserve(requests, now);
      if (!result.taken) {
        throw new Refused(refusalFor(result.refused, result.row, now));
      }
      return { ok: true, reservation: { parts: requests } };
    } catch (error) {
      if (error instanceof Refused) {
        // Counted on its own: a transaction that refused rolled back.
        const refused = error.admission.refusal;
        const part = requests.find((r) => r.quota === refused.quota);
        if (part !== undefined) await this.countRefusal(part);
        return error.admission;
      }
      return this.unavailable(requests[0]?.quota ?? 'quota', error);
    }
  }

  /** How many store transactions reservations and settlements have used (fewer than items when they batch). */
  get transactions(): number {
    return this.group.transactions;
  }

  async settle(reservation: Reservation, actual: number): Promise<void> {
    if (!Number.isFinite(actual) || actual < 0) throw new RangeError('actual must be a non-negative number');
    // Through the reservations' own queue: a settlement is applied before any reservation submitted after it.
    await this.group.settle(
      reservation.parts
        .filter((part) => part.amount !== actual)
        .map((part) => ({ key: part.key, shape: part.shape, delta: part.amount - actual })),
      this.now(),
    );
  }

  release(reservation: Reservation): Promise<void> {
    return this.settle(reservation, 0);
  }

  async usage(key: string, shape: BucketShape): Promise<BucketUsage> {
    const row = await this.store.quotaBuckets.get(key);
    if (row === undefined) return { used: 0, available: Math.floor(shape.capacity), refused: 0 };
    return {
      used: row.used,
      available: Math.max(0, Math.floor(levelAt(row, this.now()))),
      refused: row.refused,
    };
  }

  /**
   * Removes buckets full and untouched for `idleMs` (default a day, far
   * longer than any reservation stays open), so the table holds the keys in
   * use rather than every key ever seen. Returns how many went.
   */
  prune(idleMs: number = DAY_MS): Promise<number> {
    if (!Number.isFinite(idleMs) || idleMs < 60_000) throw new RangeError('idleMs must be at least a minute');
    return this.store.quotaBuckets.prune(this.now(), idleMs);
  }

  private async countRefusal(request: QuotaRequest): Promise<void> {
    // Best effort, outside the rolled-back transaction: the count is for the usage view; the refusal stands either way.
    await this.store.quotaBuckets.noteRefusal(request.key).catch(() => undefined);
  }

  private unavailable(quota: string, error: unknown): Admission {
    return refuse(
      STORE_QUOTA,
      `quota ${quota} could not be checked in the store at ${this.store.location} (${describeError(error)}); refused`,
    );
  }

  private now(): number {
    return Math.floor(this.clock());
  }
}

function refuse(quota: string, reason: string, retryAfterMs?: number): Admission & { ok: false } {
  return { ok: false, refusal: { quota, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) } };
}

function refusalFor(
  request: QuotaRequest,
  row: QuotaBucketRow | undefined,
  now: number,
): Admission & { ok: false } {
  const level = row === undefined ? 0 : levelAt(row, now);
  const missing = request.amount - level;
  const { refill, windowMs } = request.shape;
  // A bucket last changed ahead of this clock (the clock was stepped back, or another process's
  // runs ahead) refills only from then: the wait counts that gap too, or the retry time is a lie.
  const ahead = row === undefined ? 0 : Math.max(0, row.updatedAt - now);
  const wait = refill > 0 ? ahead + Math.max(0, Math.ceil((missing * windowMs) / refill)) : undefined;
  const when = wait === undefined ? '; it does not refill' : `; retry in ${wait} ms`;
  const why =
    ahead > 0
      ? ` (the bucket was last changed ${Math.ceil(ahead / 1000)} s ahead of this clock, which was stepped back or runs behind another process's)`
      : '';
  return refuse(request.quota, `quota ${request.quota} exceeded: limit ${request.label}${when}${why}`, wait);
}

function levelAt(row: QuotaBucketRow, now: number): number {
  return Math.min(row.capacity, row.tokens + (Math.max(0, now - row.updatedAt) * row.refill) / row.windowMs);
}

function invalidRequest(request: QuotaRequest): string | undefined {
  if (!Number.isFinite(request.amount) || request.amount < 0)
    return `amount for ${request.quota} must be a non-negative number`;
  const { capacity, refill, windowMs } = request.shape;
  const finite = [capacity, refill, windowMs].every((n) => Number.isFinite(n) && n >= 0);
  if (!finite || !Number.isInteger(windowMs) || windowMs < 1) {
    return `quota ${request.quota} has an invalid limit`;
  }
  return undefined;
}
