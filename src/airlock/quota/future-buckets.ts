import type { QuotaBucketRow, Store } from '../../store/types.js';

/**
 * Hosts' clocks differ by seconds; a bucket stamped more than a minute after
 * this clock's now was changed by a clock far ahead (docs/quotas.md, "A clock
 * far ahead, then set back").
 */
export const FUTURE_MARGIN_MS = 60_000;

export interface FutureBucket {
  readonly key: string;
  /** When a clock ahead last changed it, ms since the epoch. */
  readonly updatedAt: number;
  /** How far ahead of `now` that is. */
  readonly aheadMs: number;
  readonly tokens: number;
  readonly capacity: number;
}

function future(row: QuotaBucketRow, now: number): FutureBucket {
  const updatedAt = Number(row.updatedAt);
  return {
    key: row.key,
    updatedAt,
    aheadMs: updatedAt - now,
    tokens: Number(row.tokens),
    capacity: Number(row.capacity),
  };
}

/** The buckets a clock far ahead of `now` changed last: they refill nothing until `now` passes that time. */
export async function futureBuckets(
  store: Pick<Store, 'quotaBuckets'>,
  now: number,
): Promise<FutureBucket[]> {
  return (await store.quotaBuckets.changedAfter(now + FUTURE_MARGIN_MS)).map((row) => future(row, now));
}

/**
 * The operator's word that the clock which stamped `keys` was wrong: each is
 * stamped `now` instead, its tokens kept, so it refills from now at its rate
 * (a bucket left empty stays empty for its refill time; deleting it would
 * hand out a full window again). Keys no longer ahead are left alone. Done
 * in one transaction with a `quota.restamped` security event naming the
 * buckets, their old stamps and `operator`, as key creation and revocation are.
 */
export async function restampFutureBuckets(
  store: Pick<Store, 'transaction'>,
  keys: readonly string[],
  now: number,
  operator: string,
): Promise<FutureBucket[]> {
  return store.transaction(async (tx) => {
    const rows = (await tx.quotaBuckets.restamp(keys, now + FUTURE_MARGIN_MS, now)).map((row) =>
      future(row, now),
    );
    if (rows.length > 0)
      await tx.securityEvents.append({
        at: new Date(now).toISOString(),
        kind: 'quota.restamped',
        subject: operator,
        detail: JSON.stringify({
          buckets: rows.map(({ key, updatedAt, tokens }) => ({ key, updatedAt, tokens })),
          now,
        }),
      });
    return rows;
  });
}
