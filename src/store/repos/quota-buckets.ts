import type { Dialect } from '../dialect.js';
import type { Sql } from '../sql.js';
import type { QuotaBucketRepo, QuotaBucketRow } from '../types.js';

const COLUMNS = `bucket_key AS "key", tokens, capacity, refill, window_ms AS "windowMs",
  updated_at AS "updatedAt", used, refused`;

/**
 * Token buckets as rows. Every change is one statement that refills the
 * bucket up to `now` and changes it in the same step, so the database's row
 * lock (PostgreSQL) or write lock (SQLite) makes it atomic across callers and
 * processes: there is no read-modify-write in JavaScript. Time never runs
 * backwards for a bucket (updated_at only grows), so a caller with a slow
 * clock cannot refill anything twice.
 */
export function quotaBucketRepo(sql: Sql, d: Dialect): QuotaBucketRepo {
  // The level at `now` (parameter): refilled since updated_at, never above capacity.
  // Multiply before dividing, so whole windows give back exact whole tokens.
  const level = (row: string, shape: string, now: string) =>
    `${d.least}(${shape}capacity, ${row}.tokens + ${d.greatest}(0, ${now} - ${row}.updated_at) * ${shape}refill / ${shape}window_ms)`;
  const get = (key: string) =>
    sql.get<QuotaBucketRow>(`SELECT ${COLUMNS} FROM quota_buckets WHERE bucket_key = ?`, [key]);
  return {
    async take(key, shape, amount, now) {
      const taken = await sql.get<QuotaBucketRow>(
        `INSERT INTO quota_buckets (bucket_key, tokens, capacity, refill, window_ms, updated_at, used, refused)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (bucket_key) DO UPDATE SET
           tokens = ${level('quota_buckets', 'excluded.', 'excluded.updated_at')} - ?,
           capacity = excluded.capacity,
           refill = excluded.refill,
           window_ms = excluded.window_ms,
           updated_at = ${d.greatest}(quota_buckets.updated_at, excluded.updated_at),
           used = quota_buckets.used + excluded.used
         WHERE ${level('quota_buckets', 'excluded.', 'excluded.updated_at')} >= ?
         RETURNING ${COLUMNS}`,
        [
          key,
          shape.capacity - amount,
          shape.capacity,
          shape.refill,
          shape.windowMs,
          now,
          amount,
          amount,
          amount,
        ],
      );
      return taken === undefined ? { taken: false, row: await get(key) } : { taken: true, row: taken };
    },
    async noteRefusal(key) {
      await sql.run('UPDATE quota_buckets SET refused = refused + 1 WHERE bucket_key = ?', [key]);
    },
    async adjust(key, delta, now) {
      await sql.run(
        `UPDATE quota_buckets SET
           tokens = ${d.least}(capacity, ${level('quota_buckets', 'quota_buckets.', '?')} + ?),
           updated_at = ${d.greatest}(updated_at, ?),
           used = used - ?
         WHERE bucket_key = ?`,
        [now, delta, now, delta, key],
      );
    },
    async prune(now, idleMs) {
      // Full at `now` and untouched for idleMs: the same state a fresh row would be created in.
      return sql.run(
        `DELETE FROM quota_buckets
         WHERE updated_at <= ? AND tokens + (? - updated_at) * refill / window_ms >= capacity`,
        [now - idleMs, now],
      );
    },
    async lockInOrder(buckets, now, existing = []) {
      if (d.forUpdate === '' || buckets.length + existing.length === 0) return;
      const sorted = [...buckets].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const all = [...new Set([...sorted.map(({ key }) => key), ...existing])];
      // Missing rows first, full (what take creates for a new key), one statement inserting in
      // key order: two transactions creating the same new keys wait for each other at the
      // first key both lack, never crosswise. Existing rows are not touched (no lock taken).
      if (sorted.length > 0)
        await sql.run(
          `INSERT INTO quota_buckets (bucket_key, tokens, capacity, refill, window_ms, updated_at, used, refused)
         VALUES ${sorted.map(() => '(?, ?, ?, ?, ?, ?, 0, 0)').join(', ')}
         ON CONFLICT (bucket_key) DO NOTHING`,
          sorted.flatMap(({ key, shape }) => [
            key,
            shape.capacity,
            shape.capacity,
            shape.refill,
            shape.windowMs,
            now,
          ]),
        );
      // Then every row, in key order. LockRows sits above the sort, so they are locked one by one.
      await sql.all(
        `SELECT bucket_key FROM quota_buckets WHERE bucket_key IN (${all.map(() => '?').join(', ')})
         ORDER BY bucket_key${d.forUpdate}`,
        all,
      );
    },
    get,
    changedAfter(after) {
      return sql.all<QuotaBucketRow>(
        `SELECT ${COLUMNS} FROM quota_buckets WHERE updated_at > ? ORDER BY updated_at DESC, bucket_key`,
        [after],
      );
    },
    async restamp(keys, after, now) {
      if (keys.length === 0) return [];
      const marks = keys.map(() => '?').join(', ');
      const before = await sql.all<QuotaBucketRow>(
        `SELECT ${COLUMNS} FROM quota_buckets WHERE updated_at > ? AND bucket_key IN (${marks})
         ORDER BY bucket_key${d.forUpdate}`,
        [after, ...keys],
      );
      if (before.length === 0) return [];
      await sql.run(
        `UPDATE quota_buckets SET updated_at = ? WHERE updated_at > ? AND bucket_key IN (${before.map(() => '?').join(', ')})`,
        [now, after, ...before.map((row) => row.key)],
      );
      return before;
    },
  };
}
