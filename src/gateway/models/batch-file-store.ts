import type { Sql } from '../../store/sql.js';

/** An uploaded batch input as stored (migration 8): OpenAI's file object as JSON, the file as uploaded. */
export interface FileRow {
  readonly id: string;
  readonly agentId: string;
  readonly object: string;
  readonly content: string;
  readonly createdAt: string;
}

const COLUMNS = `id, agent_id AS "agentId", object, content, created_at AS "createdAt"`;

/** The model_files table, through the store's SQL (SQLite or PostgreSQL alike). */
export function batchFileStore(sql: Sql) {
  return {
    async insert(row: FileRow): Promise<void> {
      await sql.run(
        'INSERT INTO model_files (id, agent_id, purpose, object, content, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [row.id, row.agentId, 'batch', row.object, row.content, row.createdAt],
      );
    },
    /** Bytes of the files this agent keeps (each file object's `bytes`). */
    async bytes(agentId: string): Promise<number> {
      const rows = await sql.all<{ object: string }>('SELECT object FROM model_files WHERE agent_id = ?', [
        agentId,
      ]);
      return rows.reduce(
        (sum, row) => sum + Number((JSON.parse(row.object) as { bytes?: unknown }).bytes ?? 0),
        0,
      );
    },
    /** Deletes every uploaded file made before `before` (ISO time); returns how many. */
    pruneOlder(before: string): Promise<number> {
      return sql.run('DELETE FROM model_files WHERE created_at < ?', [before]);
    },
    /** This agent's uploaded file; another agent's is not found. */
    get(agentId: string, id: string): Promise<FileRow | undefined> {
      return sql.get<FileRow>(`SELECT ${COLUMNS} FROM model_files WHERE id = ? AND agent_id = ?`, [
        id,
        agentId,
      ]);
    },
  };
}
export type BatchFileStore = ReturnType<typeof batchFileStore>;
