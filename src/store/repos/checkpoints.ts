import { isUniqueViolation, storeError } from '../errors.js';
import type { Sql } from '../sql.js';
import type { CheckpointRepo, CheckpointRow } from '../types.js';

export function checkpointRepo(sql: Sql): CheckpointRepo {
  return {
    async append(agentId, nonce, ciphertext, at) {
      try {
        const row = await sql.get<{ seq: number }>(
          `INSERT INTO agent_checkpoints (agent_id, seq, nonce, ciphertext, created_at)
           VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM agent_checkpoints WHERE agent_id = ?), ?, ?, ?)
           RETURNING seq`,
          [agentId, agentId, nonce, ciphertext, at],
        );
        if (row === undefined) throw storeError('STORE_QUERY_FAILED', 'checkpoint insert returned no row');
        return row.seq;
      } catch (error) {
        // Two writers raced for the same seq; the loser retries rather than overwriting.
        if (isUniqueViolation(error)) {
          throw storeError('STORE_CONFLICT', `a concurrent checkpoint of agent ${agentId} won; retry`);
        }
        throw error;
      }
    },
    latest: (agentId) =>
      sql.get<CheckpointRow>(
        `SELECT agent_id AS "agentId", seq, nonce, ciphertext, created_at AS "createdAt"
         FROM agent_checkpoints WHERE agent_id = ? ORDER BY seq DESC LIMIT 1`,
        [agentId],
      ),
    deleteAll: (agentId) => sql.run('DELETE FROM agent_checkpoints WHERE agent_id = ?', [agentId]),
  };
}
