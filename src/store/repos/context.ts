import type { Dialect } from '../dialect.js';
import { isUniqueViolation, storeError } from '../errors.js';
import type { Sql } from '../sql.js';
import type { ContextEntryRow, ContextRepo, PartitionRow } from '../types.js';

export function contextRepo(sql: Sql, dialect: Dialect): ContextRepo {
  return {
    async createPartition(agentId, salt, at) {
      try {
        await sql.run(
          'INSERT INTO context_partitions (agent_id, salt, used_bytes, created_at) VALUES (?, ?, 0, ?)',
          [agentId, salt, at],
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw storeError('STORE_CONFLICT', `agent ${agentId} already has a context partition`);
        }
        throw error;
      }
    },
    partition: (agentId, options = {}) =>
      sql.get<PartitionRow>(
        `SELECT agent_id AS "agentId", salt, used_bytes AS "usedBytes", created_at AS "createdAt",
           destroyed_at AS "destroyedAt"
         FROM context_partitions WHERE agent_id = ?${options.lock === true ? dialect.forUpdate : ''}`,
        [agentId],
      ),
    async setUsedBytes(agentId, usedBytes) {
      await sql.run('UPDATE context_partitions SET used_bytes = ? WHERE agent_id = ?', [usedBytes, agentId]);
    },
    async destroyPartition(agentId, at) {
      await sql.run('DELETE FROM context_entries WHERE agent_id = ?', [agentId]);
      const changed = await sql.run(
        `UPDATE context_partitions SET salt = NULL, used_bytes = 0, destroyed_at = ?
         WHERE agent_id = ? AND salt IS NOT NULL`,
        [at, agentId],
      );
      return changed === 1;
    },
    get: (agentId, key) =>
      sql.get<ContextEntryRow>(
        `SELECT agent_id AS "agentId", key_name AS "key", nonce, ciphertext, size, updated_at AS "updatedAt"
         FROM context_entries WHERE agent_id = ? AND key_name = ?`,
        [agentId, key],
      ),
    async put(row) {
      await sql.run(
        `INSERT INTO context_entries (agent_id, key_name, nonce, ciphertext, size, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, key_name) DO UPDATE SET nonce = excluded.nonce,
           ciphertext = excluded.ciphertext, size = excluded.size, updated_at = excluded.updated_at`,
        [row.agentId, row.key, row.nonce, row.ciphertext, row.size, row.updatedAt],
      );
    },
    async delete(agentId, key) {
      return (
        (await sql.run('DELETE FROM context_entries WHERE agent_id = ? AND key_name = ?', [agentId, key])) ===
        1
      );
    },
    keys: (agentId) =>
      sql.all(
        `SELECT key_name AS "key", size, updated_at AS "updatedAt" FROM context_entries
         WHERE agent_id = ? ORDER BY key_name`,
        [agentId],
      ),
  };
}
