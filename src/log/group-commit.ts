/**
 * What a pipelined commit hands back once its batch is written: the batch's results, which
 * may come later (after an fsync), while the next batch is already being written.
 */
export interface Staged<R> {
  readonly done: Promise<R[]>;
}

/** Batches staged and not yet answered before the next waits (see GroupCommit). */
const AHEAD = 2;

type Waiter<T, R> = { item: T; resolve: (result: R) => void; reject: (error: unknown) => void };

/**
 * Group commit: callers submit items one at a time; whatever has queued up while the
 * previous commit was running is committed together in the next one. One fsync then serves
 * many callers, and no caller waits for a timer.
 *
 * A plain commit (a function returning the batch's results) runs one at a time. A pipelined
 * one (`{ stage }`) resolves as soon as its batch is written and hands back a promise of the
 * results: the next batch is written while the previous one's fsync is still in flight, and
 * each batch's callers are answered when its own results are in. At most two batches wait for
 * their results at once (one fsync in flight, one batch written for the next): callers arriving
 * meanwhile queue up into one batch, as without pipelining, so a busy process writes (and takes
 * the home's sequencer lock) about twice per fsync, not once per caller, and leaves the lock
 * free for other writer processes in between.
 */
export class GroupCommit<T, R> {
  private queue: Array<Waiter<T, R>> = [];
  private running: Promise<void> | undefined;
  /** Batches staged whose results are not in yet. */
  private readonly finishing = new Set<Promise<void>>();
  private batches = 0;
  private readonly stage: (items: T[]) => Promise<Staged<R>>;

  /**
   * `gather` runs before each batch is taken: a commit that blocks the thread (a
   * synchronous SQLite fsync) queues nothing while it runs, so such callers wait
   * one turn of the event loop here to let concurrent submitters join the batch.
   */
  constructor(
    commit: ((items: T[]) => Promise<R[]>) | { readonly stage: (items: T[]) => Promise<Staged<R>> },
    private readonly maxBatch = 4096,
    private readonly gather?: () => Promise<void>,
  ) {
    this.stage =
      typeof commit === 'function'
        ? async (items) => ({ done: Promise.resolve(await commit(items)) })
        : commit.stage;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** How many batches have been committed (each one write in the log): a measure of batching. */
  get commitCount(): number {
    return this.batches;
  }

  /** Resolves once everything submitted so far has been committed or refused. */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.finishing.size > 0) {
      await Promise.all([this.running, ...this.finishing]);
    }
  }

  private kick(): void {
    if (this.running !== undefined) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      // An item may have arrived after drain() saw an empty queue but before this ran.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      while (this.finishing.size >= AHEAD) await Promise.race(this.finishing);
      if (this.gather !== undefined) await this.gather().catch(() => undefined);
      const batch = this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.slice(batch.length);
      this.batches += 1;
      let done: Promise<R[]>;
      try {
        done = (await this.stage(batch.map((waiter) => waiter.item))).done;
      } catch (error) {
        done = Promise.reject(error);
      }
      this.answer(batch, done);
    }
  }

  /** Answers a batch's callers when its results are in, without holding up the next batch. */
  private answer(batch: ReadonlyArray<Waiter<T, R>>, done: Promise<R[]>): void {
    const finished = done
      .then((results) => {
        if (results.length !== batch.length) throw new Error('a commit returned the wrong number of results');
        batch.forEach((waiter, i) => {
          waiter.resolve(results[i] as R);
        });
      })
      .catch((error: unknown) => {
        for (const waiter of batch) waiter.reject(error);
      })
      .finally(() => {
        this.finishing.delete(finished);
      });
    this.finishing.add(finished);
  }
}
