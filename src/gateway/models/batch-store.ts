import type { Sql } from '../../store/sql.js';

/** A batch as stored (migration 6): the batch object as JSON, the results as JSONL once it ended. */
export interface BatchRow {
  readonly id: string;
  readonly agentId: string;
  /** The node running it (a cluster's node id, `local` alone). */
  readonly node: string;
  readonly status: string;
  readonly batch: string;
  readonly results: string | null;
  /** What resuming it needs (migration 9, JSON: BatchRun); null for a batch from before. */
  readonly run?: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const COLUMNS = `id, agent_id AS "agentId", node, status, batch, results, run, created_at AS "createdAt", updated_at AS "updatedAt"`;

/** The model_batches table, through the store's SQL (SQLite or PostgreSQL alike). */
export function batchStore(sql: Sql) {
  return {
    async insert(row: BatchRow): Promise<void> {
      await sql.run(
        'INSERT INTO model_batches (id, agent_id, node, status, batch, results, run, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          row.id,
          row.agentId,
          row.node,
          row.status,
          row.batch,
          row.results,
          row.run ?? null,
          row.createdAt,
          row.updatedAt,
        ],
      );
    },
    async update(row: Pick<BatchRow, 'id' | 'status' | 'batch' | 'results' | 'updatedAt'>): Promise<void> {
      await sql.run(
        'UPDATE model_batches SET status = ?, batch = ?, results = ?, updated_at = ? WHERE id = ?',
        [row.status, row.batch, row.results, row.updatedAt, row.id],
      );
    },
    /** A running batch being cancelled (only while it is still in progress: an ended batch stays ended). */
    async cancelling(id: string, batch: string, updatedAt: string): Promise<void> {
      await sql.run(
        "UPDATE model_batches SET status = 'cancelling', batch = ?, updated_at = ? WHERE id = ? AND status = 'in_progress'",
        [batch, updatedAt, id],
      );
    },
    /** The batch of this agent; another agent's batch is not found. */
    get(agentId: string, id: string): Promise<BatchRow | undefined> {
      return sql.get<BatchRow>(`SELECT ${COLUMNS} FROM model_batches WHERE id = ? AND agent_id = ?`, [
        id,
        agentId,
      ]);
    },
    /**
     * This agent's batches, newest first, `limit` of them, those made before batch `after` when it is given
     * (another agent's id, or an unknown one, starts nowhere: nothing is listed).
     */
    list(agentId: string, limit: number, after?: string): Promise<BatchRow[]> {
      if (after === undefined)
        return sql.all<BatchRow>(
          `SELECT ${COLUMNS} FROM model_batches WHERE agent_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
          [agentId, limit],
        );
      return sql.all<BatchRow>(
        `SELECT ${COLUMNS} FROM model_batches b WHERE agent_id = ? AND EXISTS (
           SELECT 1 FROM model_batches a WHERE a.id = ? AND a.agent_id = b.agent_id
             AND (b.created_at < a.created_at OR (b.created_at = a.created_at AND b.id < a.id)))
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        [agentId, after, limit],
      );
    },
    /** How many batches this agent has running (on any node). */
    async running(agentId: string): Promise<number> {
      const row = await sql.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM model_batches WHERE agent_id = ? AND status IN ('validating', 'in_progress', 'cancelling')",
        [agentId],
      );
      return Number(row?.n ?? 0);
    },
    /** The batches this node was running (another node's are its own to recover). */
    unfinished(node: string): Promise<BatchRow[]> {
      return sql.all<BatchRow>(
        `SELECT ${COLUMNS} FROM model_batches WHERE node = ? AND status IN ('validating', 'in_progress', 'cancelling') ORDER BY id`,
        [node],
      );
    },
  };
}
export type BatchStore = ReturnType<typeof batchStore>;
