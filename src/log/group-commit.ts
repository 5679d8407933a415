/**
 * Group commit: callers submit items one at a time; whatever has queued up while the
 * previous commit (a write plus fsync) was running is committed together in the next one.
 * One fsync then serves many callers, and no caller waits for a timer.
 */
export class GroupCommit<T, R> {
  private queue: Array<{ item: T; resolve: (result: R) => void; reject: (error: unknown) => void }> = [];
  private running: Promise<void> | undefined;
  private batches = 0;

  /**
   * `gather` runs before each batch is taken: a commit that blocks the thread (a
   * synchronous SQLite fsync) queues nothing while it runs, so such callers wait
   * one turn of the event loop here to let concurrent submitters join the batch.
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 4096,
    private readonly gather?: () => Promise<void>,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** How many commits have run (each one write + fsync in the log): a measure of batching. */
  get commitCount(): number {
    return this.batches;
  }

  /** Resolves once everything submitted so far has been committed or refused. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
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
      if (this.gather !== undefined) await this.gather().catch(() => undefined);
      const batch = this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.slice(batch.length);
      this.batches += 1;
      try {
        const results = await this.commit(batch.map((waiter) => waiter.item));
        if (results.length !== batch.length) throw new Error('a commit returned the wrong number of results');
        batch.forEach((waiter, i) => {
          waiter.resolve(results[i] as R);
        });
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
  }
}
