import { createHash } from 'node:crypto';
import type { DialectName } from '../../store/dialect.js';
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
  const running = async (agentId: string): Promise<number> => {
    const row = await sql.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM model_batches WHERE agent_id = ? AND status IN (${RUNNING})`,
      [agentId],
    );
    return Number(row?.n ?? 0);
  };
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
    running,
    /**
     * Inside a store transaction, before a new batch of this agent is stored:
     * takes the agent's batch lock, then counts its running batches. Two
     * creates of one agent thus count one after the other, the second seeing
     * the first's batch, so together they cannot pass the cap. PostgreSQL: a
     * transaction-scoped advisory lock (held to COMMIT; each later statement
     * reads what committed before it, READ COMMITTED); SQLite: the write
     * transaction (BEGIN IMMEDIATE) already holds the whole database.
     */
    async lockedRunning(agentId: string, dialect: DialectName): Promise<number> {
      if (dialect === 'postgres')
        await sql.run('SELECT pg_advisory_xact_lock(?::bigint)', [lockKey(agentId)]);
      return running(agentId);
    },
    /** The batches this node was running (another node's are its own to recover). */
    unfinished(node: string): Promise<BatchRow[]> {
      return sql.all<BatchRow>(
        `SELECT ${COLUMNS} FROM model_batches WHERE node = ? AND status IN (${RUNNING}) ORDER BY id`,
        [node],
      );
    },
    /**
     * The items of every batch that ended (any status but a running one), and
     * those of no batch written before `orphanedBefore` (ISO time: a create cut
     * short before items and batch were one transaction; a node of an older
     * version writes its items just before its batch, so young ones are left).
     * Only resuming a running batch reads items; an ended batch's answers are
     * in its output file. Returns how many went.
     */
    pruneEndedItems(orphanedBefore: string): Promise<number> {
      return sql.run(
        `DELETE FROM model_batch_items WHERE batch_id IN (SELECT id FROM model_batches WHERE status NOT IN (${RUNNING}))
           OR (updated_at < ? AND batch_id NOT IN (SELECT id FROM model_batches))`,
        [orphanedBefore],
      );
    },
    /**
     * Deletes the batches that ended before `endedBefore` (ISO time, compared
     * with updated_at, written last when a batch ends): each row is the batch
     * object and its output file (`results`). Returns how many were deleted.
     */
    pruneEnded(endedBefore: string): Promise<number> {
      return sql.run(`DELETE FROM model_batches WHERE status NOT IN (${RUNNING}) AND updated_at < ?`, [
        endedBefore,
      ]);
    },
  };
}

/** The statuses of a batch still running (counted against the cap, resumed after a restart). */
const RUNNING = "'validating', 'in_progress', 'cancelling'";

/** The advisory lock of one agent's batch creates: 63 bits of a digest of its id, as PostgreSQL's bigint. */
function lockKey(agentId: string): string {
  const digest = createHash('sha256').update(`oacp model batches\0${agentId}`).digest();
  return (digest.readBigUInt64BE(0) >> 1n).toString();
}
export type BatchStore = ReturnType<typeof batchStore>;
