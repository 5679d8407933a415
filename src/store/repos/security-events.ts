import type { Sql, SqlValue } from '../sql.js';
import type { SecurityEventRepo, SecurityEventRow } from '../types.js';

export function securityEventRepo(sql: Sql): SecurityEventRepo {
  return {
    async append(row) {
      await sql.run('INSERT INTO security_events (at, kind, subject, detail) VALUES (?, ?, ?, ?)', [
        row.at,
        row.kind,
        row.subject,
        row.detail,
      ]);
    },
    list(filter = {}) {
      const where: string[] = ['id > ?'];
      const params: SqlValue[] = [filter.afterId ?? 0];
      if (filter.kind !== undefined) {
        where.push('kind = ?');
        params.push(filter.kind);
      }
      params.push(filter.limit ?? 1000);
      return sql.all<SecurityEventRow & { id: number }>(
        `SELECT id, at, kind, subject, detail FROM security_events
         WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
        params,
      );
    },
  };
}
