import type { Sql } from '../sql.js';
import type { QuotaCounterRepo } from '../types.js';

export function quotaCounterRepo(sql: Sql): QuotaCounterRepo {
  const used = async (subject: string, resource: string, windowStart: number) => {
    const row = await sql.get<{ used: number }>(
      'SELECT used FROM quota_counters WHERE subject = ? AND resource = ? AND window_start = ?',
      [subject, resource, windowStart],
    );
    return row?.used ?? 0;
  };
  return {
    async consume({ subject, resource, windowStart, amount, limit }) {
      if (amount > limit) return { allowed: false, used: await used(subject, resource, windowStart) };
      // One statement: the row lock (PostgreSQL) or the write lock (SQLite) makes check-and-add atomic.
      const row = await sql.get<{ used: number }>(
        `INSERT INTO quota_counters (subject, resource, window_start, used) VALUES (?, ?, ?, ?)
         ON CONFLICT (subject, resource, window_start) DO UPDATE SET used = quota_counters.used + excluded.used
         WHERE quota_counters.used + excluded.used <= ?
         RETURNING used`,
        [subject, resource, windowStart, amount, limit],
      );
      if (row !== undefined) return { allowed: true, used: row.used };
      return { allowed: false, used: await used(subject, resource, windowStart) };
    },
    used,
    async release(subject, resource, windowStart, amount) {
      if (!(amount > 0)) return;
      await sql.run(
        `UPDATE quota_counters SET used = CASE WHEN used > ? THEN used - ? ELSE 0 END
         WHERE subject = ? AND resource = ? AND window_start = ?`,
        [amount, amount, subject, resource, windowStart],
      );
    },
    prune: (before) => sql.run('DELETE FROM quota_counters WHERE window_start < ?', [before]),
  };
}
