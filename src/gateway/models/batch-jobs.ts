import type { DialectName } from '../../store/dialect.js';
import type { Sql } from '../../store/sql.js';
import {
  type BatchJournal,
  type BatchParts,
  type BatchRequest,
  type BatchReserved,
  type BatchResult,
  runPlans,
} from './batch.js';
import { providerItemId } from './batch-collector.js';
import { type Amount, type BatchItemStore, batchItemStore, type ItemRow } from './batch-item-store.js';
import { BatchPool } from './batch-pool.js';
import type { ItemReceipt } from './batch-receipts.js';
import { planResume } from './batch-resume.js';
import { type BatchRow, type BatchStore, batchStore } from './batch-store.js';
import type { Reservation } from './budget.js';

export type BatchStatus =
  | 'validating'
  | 'in_progress'
  | 'cancelling'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'expired';

/** A batch as OpenAI's batch object shows it (times in seconds since the epoch). */
export interface BatchObject {
  readonly id: string;
  readonly object: 'batch';
  readonly endpoint: string;
  readonly errors: { object: 'list'; data: { code: string; message: string }[] } | null;
  readonly input_file_id: string | null;
  readonly completion_window: '24h';
  readonly status: BatchStatus;
  readonly output_file_id: string | null;
  readonly error_file_id: null;
  readonly created_at: number;
  readonly in_progress_at: number | null;
  readonly expires_at: null;
  readonly finalizing_at: number | null;
  readonly completed_at: number | null;
  readonly failed_at: number | null;
  readonly expired_at: null;
  readonly cancelling_at: number | null;
  readonly cancelled_at: number | null;
  readonly request_counts: { total: number; completed: number; failed: number };
  readonly metadata: Record<string, string> | null;
}

interface Running {
  readonly agentId: string;
  readonly controller: AbortController;
  object: BatchObject;
  readonly done: Promise<void>;
}

const RESTARTED =
  'the gateway stopped while this batch ran: items answered before stay receipted and spent, the others were abandoned';

/** What resuming a batch needs, stored with it (model_batches.run). */
interface BatchRun {
  readonly reservation: Reservation;
  /** The log's size when the batch was made: its items' receipts come after. */
  readonly logStart: number;
}

/** What resuming a batch after a restart needs from the gateway. */
export interface BatchResume {
  /** How to run this agent's batch; undefined when the agent is gone. */
  partsFor(agentId: string, request: BatchRequest): Promise<BatchParts | undefined>;
  /** The receipts of batch `id`'s items in the log from `from` on. */
  receiptsOf(id: string, from: number): Promise<Map<number, ItemReceipt>>;
}

const NOTHING: Amount = { tokens: 0, costMicros: 0 };

/** How old items of no batch must be before they are pruned (see BatchStore.pruneEndedItems). */
const ORPHAN_MS = 60 * 60 * 1000;

/** The prefix of a batch's output file id; the rest is the batch id. */
const OUTPUT = 'file-output-';

/**
 * Asynchronous batches: created at once (their budget already reserved), run
 * in the gateway, stored (model_batches) as they start and as they end, read
 * and cancelled by the agent that created them only. A batch the gateway was
 * running when it stopped is marked failed at the next start (`recover`):
 * its items answered before stay receipted and spent, the rest were never
 * answered to the agent.
 */
export class ModelBatches {
  readonly #running = new Map<string, Running>();

  constructor(
    private readonly parts: {
      readonly store: BatchStore;
      readonly items: BatchItemStore;
      /** Runs `fn` in one transaction of the store, with SQL bound to it and the store's dialect. */
      readonly transaction: <T>(
        fn: (tx: { readonly sql: Sql; readonly dialect: DialectName }) => Promise<T>,
      ) => Promise<T>;
      /** The log's size now: a new batch's receipts come after it. */
      readonly logSize: () => number;
      /** This node's id: a batch is run, and recovered, by the node that created it. */
      readonly node: string;
      readonly now?: () => Date;
    },
  ) {}

  /**
   * Starts a reserved batch and answers its object at once, unless its agent
   * already has `cap` batches running (then `{ full }`, the count, and the
   * reservation is given back). The count, the items and the batch with its
   * reservation are one transaction, under the agent's batch lock
   * (BatchStore.lockedRunning): two creates at once cannot both pass the cap,
   * and a restart finds the batch whole, or not at all, and resumes it.
   */
  async create(
    agentId: string,
    request: BatchRequest,
    reserved: BatchReserved,
    cap: number,
  ): Promise<BatchObject | { readonly full: number }> {
    const id = reserved.id;
    const at = this.#seconds();
    const object: BatchObject = {
      id,
      object: 'batch',
      endpoint: request.endpoint,
      errors: null,
      input_file_id: request.input_file_id ?? null,
      completion_window: '24h',
      status: 'in_progress',
      output_file_id: null,
      error_file_id: null,
      created_at: at,
      in_progress_at: at,
      expires_at: null,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: request.requests.length, completed: 0, failed: 0 },
      metadata: request.metadata ?? null,
    };
    const iso = this.#iso();
    const run: BatchRun = { reservation: reserved.reservation, logStart: this.parts.logSize() };
    let full: number | undefined;
    try {
      full = await this.parts.transaction(async ({ sql, dialect }) => {
        const store = batchStore(sql);
        const running = await store.lockedRunning(agentId, dialect);
        if (running >= cap) return running;
        await batchItemStore(sql, () => this.#date()).insert(id, request.requests);
        await store.insert({
          id,
          agentId,
          node: this.parts.node,
          status: object.status,
          batch: JSON.stringify(object),
          results: null,
          run: JSON.stringify(run),
          createdAt: iso,
          updatedAt: iso,
        });
        return undefined;
      });
    } catch (error) {
      // Not stored, so never run: its reservation is settled at nothing before the error goes on.
      await reserved.release();
      throw error;
    }
    if (full !== undefined) {
      await reserved.release();
      return { full };
    }
    this.#start(id, agentId, object, (signal, onResult) => reserved.run(signal, onResult, this.#journal(id)));
    return object;
  }

  #start(
    id: string,
    agentId: string,
    object: BatchObject,
    execute: (signal: AbortSignal, onResult: (result: BatchResult) => void) => Promise<BatchResult[]>,
    cancelled = false,
  ): void {
    const controller = new AbortController();
    if (cancelled) controller.abort();
    const running: Running = {
      agentId,
      controller,
      object,
      // A store that fails at the end leaves the row in_progress: the next start resumes it.
      done: Promise.resolve()
        .then(() => this.#run(id, running, execute))
        .catch(() => undefined),
    };
    this.#running.set(id, running);
  }

  /** Writes each item's step to model_batch_items before it is taken. */
  #journal(id: string): BatchJournal {
    const items = this.parts.items;
    return {
      sent: (item, drawn) => items.set(id, [item], 'sent', () => ({ drawn })),
      submitting: (entries) => {
        const drawn = new Map(entries);
        return items.set(
          id,
          entries.map(([item]) => item),
          'submitting',
          (item) => ({ drawn: drawn.get(item) ?? NOTHING }),
        );
      },
      submitted: (provider, batch, entries) => {
        const drawn = new Map(entries);
        return items.set(
          id,
          entries.map(([item]) => item),
          'submitted',
          (item) => ({
            drawn: drawn.get(item) ?? NOTHING,
            provider: { name: provider, batch, item: providerItemId(item) },
          }),
        );
      },
      done: (item, result, drawn, charged) =>
        items.set(id, [item], 'done', () => ({ ...(drawn === undefined ? {} : { drawn }), charged, result })),
    };
  }

  /** The agent's batch; another agent's (or an unknown) id is undefined. */
  async get(agentId: string, id: string): Promise<BatchObject | undefined> {
    const running = this.#running.get(id);
    if (running !== undefined) return running.agentId === agentId ? running.object : undefined;
    const row = await this.parts.store.get(agentId, id);
    return row === undefined ? undefined : objectOf(row);
  }

  /** How many batches the agent has running (on any node of a cluster). */
  running(agentId: string): Promise<number> {
    return this.parts.store.running(agentId);
  }

  /**
   * The agent's batches newest first, as OpenAI's `GET /v1/batches` pages
   * them (`after` a batch id, `limit` 1-100): a running one as it is now.
   */
  async list(
    agentId: string,
    limit: number,
    after?: string,
  ): Promise<{
    object: 'list';
    data: BatchObject[];
    first_id: string | null;
    last_id: string | null;
    has_more: boolean;
  }> {
    const rows = await this.parts.store.list(agentId, limit + 1, after);
    const data = rows.slice(0, limit).map((row) => this.#running.get(row.id)?.object ?? objectOf(row));
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: rows.length > limit,
    };
  }

  /**
   * Cancels the agent's running batch: its provider batches are cancelled and
   * its items not yet sent are refused (their budget given back); answered
   * items stay spent. `ended` when the batch had already ended.
   */
  async cancel(agentId: string, id: string): Promise<BatchObject | 'ended' | undefined> {
    const running = this.#running.get(id);
    if (running === undefined || running.agentId !== agentId)
      return (await this.get(agentId, id)) === undefined ? undefined : 'ended';
    if (!running.controller.signal.aborted) {
      running.object = { ...running.object, status: 'cancelling', cancelling_at: this.#seconds() };
      // Stored first: a restart finds it cancelling and keeps it cancelled, never resumes its items.
      await this.parts.store
        .cancelling(id, JSON.stringify(running.object), this.#iso())
        .catch(() => undefined);
      running.controller.abort();
    }
    return running.object;
  }

  /** The JSONL of an ended batch's answers, from its output file id; undefined when there is none. */
  async output(agentId: string, fileId: string): Promise<string | undefined> {
    if (!fileId.startsWith(OUTPUT)) return undefined;
    const row = await this.parts.store.get(agentId, fileId.slice(OUTPUT.length));
    return row?.results ?? undefined;
  }

  /**
   * At start: the batches a previous process of this node was running are
   * resumed (docs/model-gateway.md, Batches after a restart): items with a
   * receipt are kept (found in the log when their row missed it), items the
   * provider may hold outside a known provider batch end failed and charged
   * what they drew, items in a provider batch are read from it, the others
   * are sent under the batch's stored reservation. A batch from before
   * resumption existed (or whose agent is gone) is marked failed with a
   * receipt made by `abandon`, as before. Returns how many it found.
   */
  async recover(
    resume: BatchResume,
    abandon: (row: BatchRow, endpoint: string, reason: string) => Promise<number | undefined>,
  ): Promise<number> {
    const rows = await this.parts.store.unfinished(this.parts.node);
    for (const row of rows) {
      const before = objectOf(row);
      const items = row.run === null || row.run === undefined ? [] : await this.parts.items.list(row.id);
      const request = {
        endpoint: before.endpoint as BatchRequest['endpoint'],
        requests: items.map((item) => ({
          custom_id: item.customId,
          body: JSON.parse(item.body) as Record<string, unknown>,
        })),
      };
      const parts =
        items.length === 0 ? undefined : await resume.partsFor(row.agentId, request).catch(() => undefined);
      if (parts === undefined || row.run === null || row.run === undefined) {
        await this.#fail(row, before, abandon);
        continue;
      }
      await this.#resume(row, before, JSON.parse(row.run) as BatchRun, items, parts, resume);
    }
    return rows.length;
  }

  async #resume(
    row: BatchRow,
    before: BatchObject,
    run: BatchRun,
    items: readonly ItemRow[],
    parts: BatchParts,
    resume: BatchResume,
  ): Promise<void> {
    const budget = parts.gateway.budget;
    const settled = await budget.markedSettled(row.id);
    const found = await resume.receiptsOf(row.id, run.logStart);
    const journal = this.#journal(row.id);
    const { plans, drawn, charged } = await planResume(row.id, items, parts, found, settled, journal);
    const pool = BatchPool.resume(budget, run.reservation, row.id, drawn, charged);
    const finished = plans.filter((plan) => plan.done !== undefined).map((plan) => plan.done as BatchResult);
    const object: BatchObject = {
      ...before,
      request_counts: {
        total: before.request_counts.total,
        completed: finished.filter(ok).length,
        failed: finished.filter((result) => !ok(result)).length,
      },
    };
    this.#start(
      row.id,
      row.agentId,
      object,
      // Settled already: every item had ended, only the row was not written.
      settled
        ? async () => plans.map((plan) => plan.done as BatchResult)
        : (signal, onResult) => runPlans(parts, row.id, pool, plans, signal, onResult, journal),
      before.status === 'cancelling',
    );
  }

  /** A batch that cannot be resumed: marked failed with a receipt. */
  async #fail(
    row: BatchRow,
    before: BatchObject,
    abandon: (row: BatchRow, endpoint: string, reason: string) => Promise<number | undefined>,
  ): Promise<void> {
    const index = await abandon(row, before.endpoint, RESTARTED).catch(() => undefined);
    const object: BatchObject = {
      ...before,
      status: 'failed',
      failed_at: this.#seconds(),
      errors: {
        object: 'list',
        data: [
          {
            code: 'gateway_restarted',
            message: index === undefined ? RESTARTED : `${RESTARTED} (receipt ${index})`,
          },
        ],
      },
    };
    await this.parts.store.update({
      id: row.id,
      status: object.status,
      batch: JSON.stringify(object),
      results: row.results,
      updatedAt: this.#iso(),
    });
  }

  /**
   * Prunes the store (docs/model-gateway.md, "Batches kept"): the items of
   * every batch not running; the batches that ended more than `retentionMs`
   * ago, with their output files; uploaded input files older than that (a
   * running batch holds its items, so it never needs its file again).
   */
  async prune(
    files: { pruneOlder(before: string): Promise<number> },
    retentionMs: number,
  ): Promise<{ readonly items: number; readonly batches: number; readonly files: number }> {
    const now = this.#date().getTime();
    const before = new Date(now - retentionMs).toISOString();
    // Items first: a batch row deleted before its items would leave them orphaned until an hour on.
    const items = await this.parts.store.pruneEndedItems(new Date(now - ORPHAN_MS).toISOString());
    const batches = await this.parts.store.pruneEnded(before);
    return { items, batches, files: await files.pruneOlder(before) };
  }

  /** Cancels every running batch and waits for each to be stored as ended. */
  async close(): Promise<void> {
    const all = [...this.#running.values()];
    for (const running of all) running.controller.abort();
    await Promise.all(all.map((running) => running.done));
  }

  async #run(
    id: string,
    running: Running,
    execute: (signal: AbortSignal, onResult: (result: BatchResult) => void) => Promise<BatchResult[]>,
  ): Promise<void> {
    let results: BatchResult[] | undefined;
    let error: string | undefined;
    try {
      results = await execute(running.controller.signal, (result) => {
        const counts = running.object.request_counts;
        running.object = {
          ...running.object,
          request_counts: {
            ...counts,
            ...(ok(result) ? { completed: counts.completed + 1 } : { failed: counts.failed + 1 }),
          },
        };
      });
    } catch (cause) {
      error = (cause instanceof Error ? cause.message : String(cause)).slice(0, 300);
    }
    const at = this.#seconds();
    const cancelled = running.controller.signal.aborted;
    const lines = (results ?? []).map((result, index) => ({
      id: `${id}_item_${index}`,
      custom_id: result.custom_id,
      response: { status_code: result.status, body: result.body },
      error: ok(result) ? null : { code: String(result.status), message: errorMessage(result.body) },
      oacp_receipt: result.receipt ?? null,
    }));
    const object: BatchObject = {
      ...running.object,
      ...(results === undefined
        ? {
            status: 'failed',
            failed_at: at,
            errors: { object: 'list', data: [{ code: 'gateway_error', message: error ?? 'unknown' }] },
          }
        : cancelled
          ? { status: 'cancelled', cancelled_at: at, output_file_id: `${OUTPUT}${id}` }
          : { status: 'completed', finalizing_at: at, completed_at: at, output_file_id: `${OUTPUT}${id}` }),
      request_counts: {
        total: running.object.request_counts.total,
        completed: lines.filter((line) => line.error === null).length,
        failed: lines.filter((line) => line.error !== null).length,
      },
    };
    try {
      await this.parts.store.update({
        id,
        status: object.status,
        batch: JSON.stringify(object),
        results: results === undefined ? null : `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`,
        updatedAt: this.#iso(),
      });
    } finally {
      this.#running.delete(id);
    }
  }

  #seconds(): number {
    return Math.floor(this.#date().getTime() / 1000);
  }
  #iso(): string {
    return this.#date().toISOString();
  }
  #date(): Date {
    return this.parts.now?.() ?? new Date();
  }
}

function objectOf(row: BatchRow): BatchObject {
  return JSON.parse(row.batch) as BatchObject;
}

function ok(result: BatchResult): boolean {
  return result.status >= 200 && result.status < 300;
}

function errorMessage(body: unknown): string {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === 'string' ? error.message.slice(0, 500) : 'the item was refused';
}
