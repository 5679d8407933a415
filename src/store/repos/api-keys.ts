import { isUniqueViolation, storeError } from '../errors.js';
import type { Sql } from '../sql.js';
import type { ApiKeyRepo, ApiKeyRow } from '../types.js';

const COLUMNS =
  'id, salt, hash, scopes, label, created_at AS "createdAt", revoked_at AS "revokedAt", agent_id AS "agentId"';

export function apiKeyRepo(sql: Sql): ApiKeyRepo {
  return {
    async insert(row) {
      try {
        await sql.run(
          'INSERT INTO api_keys (id, salt, hash, scopes, label, created_at, revoked_at, agent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [row.id, row.salt, row.hash, row.scopes, row.label, row.createdAt, row.revokedAt, row.agentId],
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw storeError('STORE_CONFLICT', `API key ${row.id} already exists`);
        throw error;
      }
    },
    get: (id) => sql.get<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`, [id]),
    list: () => sql.all<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`),
    async revoke(id, at) {
      const changed = await sql.run(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        [at, id],
      );
      return changed === 1;
    },
  };
}
