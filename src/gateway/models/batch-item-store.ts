import type { Sql } from '../../store/sql.js';
import type { BatchResult } from './batch.js';

/**
 * Where one batch item is (migration 9): `pending` (nothing drawn for it yet),
 * `sent` (its reservation drawn, handed to the provider directly),
 * `submitting` (drawn, being submitted in a provider batch: whether the
 * provider has it is unknown), `submitted` (in the provider batch named in
 * its progress), `done` (answered or refused, with its receipt).
 */
export type ItemState = 'pending' | 'sent' | 'submitting' | 'submitted' | 'done';

export interface Amount {
  readonly tokens: number;
  readonly costMicros: number;
}

/** What an item's state needs kept. */
export interface ItemProgress {
  /** What it drew from the batch's reservation (every state after pending). */
  readonly drawn?: Amount;
  /** The provider batch holding it: provider name, the provider's batch id, the item's id in it. */
  readonly provider?: { readonly name: string; readonly batch: string; readonly item: string };
  /** What it was charged (done). */
  readonly charged?: Amount;
  /** Its answer or refusal, with its receipt index (done). */
  readonly result?: BatchResult;
}

export interface ItemRow {
  readonly item: number;
  readonly customId: string;
  readonly body: string;
  readonly state: ItemState;
  readonly progress: ItemProgress;
}

/** Rows per INSERT: one statement (one commit) per hundred items, not one per item. */
const CHUNK = 100;

/** The model_batch_items table, through the store's SQL (SQLite or PostgreSQL alike). */
export function batchItemStore(sql: Sql, now: () => Date = () => new Date()) {
  return {
    /** Stores a new batch's items, all pending, before the batch itself is stored. */
    async insert(
      batchId: string,
      items: readonly { readonly custom_id: string; readonly body: unknown }[],
    ): Promise<void> {
      const at = now().toISOString();
      for (let start = 0; start < items.length; start += CHUNK) {
        const chunk = items.slice(start, start + CHUNK);
        await sql.run(
          `INSERT INTO model_batch_items (batch_id, item, custom_id, body, state, progress, updated_at) VALUES ${chunk
            .map(() => "(?, ?, ?, ?, 'pending', NULL, ?)")
            .join(', ')}`,
          chunk.flatMap((entry, offset) => [
            batchId,
            start + offset,
            entry.custom_id,
            JSON.stringify(entry.body),
            at,
          ]),
        );
      }
    },
    /** Moves items to `state` with `progress` (one statement for all of them). */
    async set(
      batchId: string,
      items: readonly number[],
      state: ItemState,
      progress: (item: number) => ItemProgress,
    ): Promise<void> {
      if (items.length === 0) return;
      const at = now().toISOString();
      if (items.length === 1) {
        const item = items[0] as number;
        await sql.run(
          'UPDATE model_batch_items SET state = ?, progress = ?, updated_at = ? WHERE batch_id = ? AND item = ?',
          [state, JSON.stringify(progress(item)), at, batchId, item],
        );
        return;
      }
      // Several at once (a provider batch's items): one statement, so one commit.
      await sql.run(
        `UPDATE model_batch_items SET state = ?, updated_at = ?, progress = CASE item ${items
          .map(() => 'WHEN ? THEN ?')
          .join(' ')} END WHERE batch_id = ? AND item IN (${items.map(() => '?').join(', ')})`,
        [state, at, ...items.flatMap((item) => [item, JSON.stringify(progress(item))]), batchId, ...items],
      );
    },
    async list(batchId: string): Promise<ItemRow[]> {
      const rows = await sql.all<{
        item: number;
        customId: string;
        body: string;
        state: ItemState;
        progress: string | null;
      }>(
        'SELECT item, custom_id AS "customId", body, state, progress FROM model_batch_items WHERE batch_id = ? ORDER BY item',
        [batchId],
      );
      return rows.map((row) => ({
        ...row,
        item: Number(row.item),
        progress: row.progress === null ? {} : (JSON.parse(row.progress) as ItemProgress),
      }));
    },
  };
}
export type BatchItemStore = ReturnType<typeof batchItemStore>;
