import { type FSWatcher, watch } from 'node:fs';

/** Where watching fails (no inotify), how often a waiting stream looks at the log anyway. */
const FALLBACK_POLL_MS = 1000;

/**
 * Wakes the receipt streams when the log grows, instead of each stream
 * polling: one inotify watch (fs.watch) on the log directory fires when the
 * write-ahead log is written, by this gateway or by any other process on the
 * home (a standalone bridge); the log then catches up on the new records
 * (`refresh`) once for every stream, and every waiting stream wakes. Where
 * the watch cannot be set up or fails, waiters fall back to a 1 s timer.
 */
export class LogAppendWake {
  readonly #waiters = new Set<() => void>();
  #watcher: FSWatcher | undefined;
  #fallback = false;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #generation = 0;

  constructor(
    private readonly dir: string,
    private readonly walFile: string,
    private readonly refresh: () => Promise<void>,
  ) {}

  /** Starts watching; until close(), the log directory has one watcher. */
  open(): void {
    if (this.#watcher !== undefined || this.#fallback) return;
    try {
      this.#watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name === null || name === this.walFile) this.#changed();
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined;
        this.#fallback = true;
        this.#changed();
      });
    } catch {
      this.#fallback = true;
    }
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#fallback = false;
    this.#wakeAll();
  }

  /** Counts the log changes seen; read it before looking at the log, and pass it to next(). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Resolves at the next change after `seen` (at once if there was one since),
   * or after `maxMs` (heartbeats), or when the signal aborts.
   */
  next(seen: number, maxMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || seen !== this.#generation) return Promise.resolve();
    return new Promise((resolve) => {
      const wait = Math.min(maxMs, this.#fallback ? FALLBACK_POLL_MS : maxMs);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        // Without a watch, a timer is the only way to see others' appends.
        if (this.#fallback) void this.#catchUp().finally(done);
        else done();
      }, wait);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  #changed(): void {
    if (this.#refreshing !== undefined) {
      this.#again = true;
      return;
    }
    this.#refreshing = this.#catchUp().finally(() => {
      this.#refreshing = undefined;
      this.#generation += 1;
      this.#wakeAll();
      if (this.#again) {
        this.#again = false;
        this.#changed();
      }
    });
  }

  async #catchUp(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      // A log that cannot be read now is read (and its error reported) by the stream itself.
    }
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
