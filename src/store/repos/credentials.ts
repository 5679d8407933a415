import type { Sql } from '../sql.js';
import type { CredentialRepo, CredentialRow } from '../types.js';

const COLUMNS = `name, agent_id AS "agentId", tool, inject_kind AS "injectKind", inject_name AS "injectName",
  nonce, ciphertext, created_at AS "createdAt", updated_at AS "updatedAt"`;

export function credentialRepo(sql: Sql): CredentialRepo {
  return {
    async upsert(row) {
      await sql.run(
        `INSERT INTO credentials
           (name, agent_id, tool, inject_kind, inject_name, nonce, ciphertext, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name, agent_id, tool) DO UPDATE SET inject_kind = excluded.inject_kind,
           inject_name = excluded.inject_name, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
           updated_at = excluded.updated_at`,
        [
          row.name,
          row.agentId,
          row.tool,
          row.injectKind,
          row.injectName,
          row.nonce,
          row.ciphertext,
          row.createdAt,
          row.updatedAt,
        ],
      );
    },
    forAgent: (agentId) =>
      sql.all<CredentialRow>(`SELECT ${COLUMNS} FROM credentials WHERE agent_id = ? ORDER BY name, tool`, [
        agentId,
      ]),
    list: () => sql.all<CredentialRow>(`SELECT ${COLUMNS} FROM credentials ORDER BY agent_id, name, tool`),
    async delete(name, agentId, tool) {
      const changed = await sql.run('DELETE FROM credentials WHERE name = ? AND agent_id = ? AND tool = ?', [
        name,
        agentId,
        tool,
      ]);
      return changed === 1;
    },
  };
}
