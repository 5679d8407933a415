import type { Sql, SqlValue } from '../sql.js';
import type { AccessLogRepo, AccessLogRow } from '../types.js';

export function accessLogRepo(sql: Sql): AccessLogRepo {
  return {
    async append(row) {
      await sql.run(
        'INSERT INTO access_log (at, agent_id, key_name, op, bytes, outcome, actor) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [row.at, row.agentId, row.key, row.op, row.bytes, row.outcome, row.actor],
      );
    },
    list(filter = {}) {
      const where: string[] = ['id > ?'];
      const params: SqlValue[] = [filter.afterId ?? 0];
      if (filter.agentId !== undefined) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      params.push(filter.limit ?? 1000);
      return sql.all<AccessLogRow & { id: number }>(
        `SELECT id, at, agent_id AS "agentId", key_name AS "key", op, bytes, outcome, actor
         FROM access_log WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
        params,
      );
    },
  };
}
