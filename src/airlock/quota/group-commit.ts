import type { BucketShape, QuotaBucketRow, Repos } from '../../store/types.js';

/** One bucket take waiting for the next batch. */
interface Pending {
  readonly key: string;
  readonly shape: BucketShape;
  readonly amount: number;
  readonly now: number;
  resolve(result: { taken: boolean; row: QuotaBucketRow | undefined }): void;
  reject(error: unknown): void;
}

/** Most takes in one transaction: bounds how long a row lock is held and a failed batch's reach. */
const MAX_BATCH = 256;

/**
 * Group commit for single-bucket takes: takes that arrive while a
 * transaction is in flight wait, then all go in the next one, so N
 * concurrent checks cost one commit (one fsync on SQLite, one round of
 * COMMIT on PostgreSQL) instead of N. Each take is still its own atomic
 * statement with its own answer: one refused take does not touch the others.
 * Takes are applied in key order, as every reservation locks rows, so
 * batches on several gateways cannot deadlock. If the transaction fails,
 * every take in it fails (the engine refuses each: fail closed); a take
 * never counts as taken unless its transaction committed.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private running = false;

  constructor(private readonly transaction: <T>(fn: (tx: Repos) => Promise<T>) => Promise<T>) {}

  take(
    key: string,
    shape: BucketShape,
    amount: number,
    now: number,
  ): Promise<{ taken: boolean; row: QuotaBucketRow | undefined }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, shape, amount, now, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        const ordered = [...batch].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        let results: { taken: boolean; row: QuotaBucketRow | undefined }[];
        try {
          results = await this.transaction(async (tx) => {
            const out = [];
            for (const item of ordered)
              out.push(await tx.quotaBuckets.take(item.key, item.shape, item.amount, item.now));
            return out;
          });
        } catch (error) {
          for (const item of batch) item.reject(error);
          continue;
        }
        // Answered only after the commit: an answer is never ahead of what is durable.
        ordered.forEach((item, i) => {
          item.resolve(results[i] as { taken: boolean; row: QuotaBucketRow | undefined });
        });
      }
    } finally {
      this.running = false;
    }
  }
}
