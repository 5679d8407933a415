import { randomBytes } from 'node:crypto';
import type { BatchRequest, BatchReserved, BatchResult } from './batch.js';
import type { BatchRow, BatchStore } from './batch-store.js';

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
      /** This node's id: a batch is run, and recovered, by the node that created it. */
      readonly node: string;
      readonly now?: () => Date;
    },
  ) {}

  /** Starts a reserved batch and answers its object at once. */
  async create(agentId: string, request: BatchRequest, reserved: BatchReserved): Promise<BatchObject> {
    const id = `batch_${randomBytes(12).toString('hex')}`;
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
    await this.#insert(reserved, {
      id,
      agentId,
      node: this.parts.node,
      status: object.status,
      batch: JSON.stringify(object),
      results: null,
      createdAt: iso,
      updatedAt: iso,
    });
    const controller = new AbortController();
    const running: Running = {
      agentId,
      controller,
      object,
      // A store that fails at the end leaves the row in_progress: the next start marks it failed.
      done: Promise.resolve()
        .then(() => this.#run(id, running, reserved))
        .catch(() => undefined),
    };
    this.#running.set(id, running);
    return object;
  }

  /** Stores a new batch; when the store refuses, its reservation comes back before the error goes on. */
  async #insert(reserved: BatchReserved, row: BatchRow): Promise<void> {
    try {
      await this.parts.store.insert(row);
    } catch (error) {
      await reserved.release();
      throw error;
    }
  }

  /** The agent's batch; another agent's (or an unknown) id is undefined. */
  async get(agentId: string, id: string): Promise<BatchObject | undefined> {
    const running = this.#running.get(id);
    if (running !== undefined) return running.agentId === agentId ? running.object : undefined;
    const row = await this.parts.store.get(agentId, id);
    return row === undefined ? undefined : objectOf(row);
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
   * At start: batches a previous process of this node was running are marked
   * failed, with the reason and the index of a receipt `receipt` makes for it
   * (undefined when it could not: the batch is failed all the same).
   */
  async recover(
    receipt: (row: BatchRow, endpoint: string, reason: string) => Promise<number | undefined>,
  ): Promise<number> {
    const rows = await this.parts.store.unfinished(this.parts.node);
    for (const row of rows) {
      const before = objectOf(row);
      const index = await receipt(row, before.endpoint, RESTARTED).catch(() => undefined);
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
    return rows.length;
  }

  /** Cancels every running batch and waits for each to be stored as ended. */
  async close(): Promise<void> {
    const all = [...this.#running.values()];
    for (const running of all) running.controller.abort();
    await Promise.all(all.map((running) => running.done));
  }

  async #run(id: string, running: Running, reserved: BatchReserved): Promise<void> {
    let results: BatchResult[] | undefined;
    let error: string | undefined;
    try {
      results = await reserved.run(running.controller.signal, (result) => {
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
