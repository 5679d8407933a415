import { isUniqueViolation, storeError } from '../errors.js';
import type { Sql, SqlValue } from '../sql.js';
import type { AgentRepo, StoredAgentRow } from '../types.js';

const COLUMNS = `id, name, manifest, state, parent_id AS "parentId", sealed_key AS "sealedKey", code,
  attributes, created_at AS "createdAt", updated_at AS "updatedAt"`;

export function agentRepo(sql: Sql): AgentRepo {
  return {
    async insert(row) {
      try {
        await sql.run(
          `INSERT INTO agents (id, name, manifest, state, parent_id, sealed_key, code, attributes, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            row.id,
            row.name,
            row.manifest,
            row.state,
            row.parentId,
            row.sealedKey,
            row.code,
            row.attributes ?? '{}',
            row.createdAt,
            row.updatedAt,
          ],
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw storeError(
            'STORE_CONFLICT',
            `an agent with id ${row.id} or name "${row.name}" already exists`,
          );
        }
        throw error;
      }
    },
    get: (id) => sql.get<StoredAgentRow>(`SELECT ${COLUMNS} FROM agents WHERE id = ?`, [id]),
    getByName: (name) => sql.get<StoredAgentRow>(`SELECT ${COLUMNS} FROM agents WHERE name = ?`, [name]),
    list(filter = {}) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (filter.state !== undefined) {
        where.push('state = ?');
        params.push(filter.state);
      }
      if (filter.parentId !== undefined) {
        where.push('parent_id = ?');
        params.push(filter.parentId);
      }
      const clause = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
      return sql.all<StoredAgentRow>(
        `SELECT ${COLUMNS} FROM agents${clause} ORDER BY created_at, id`,
        params,
      );
    },
    async setState(id, from, to, at) {
      const changed = await sql.run(
        'UPDATE agents SET state = ?, updated_at = ? WHERE id = ? AND state = ?',
        [to, at, id, from],
      );
      return changed === 1;
    },
  };
}
