/**
 * One-at-a-time access to something that is not safe to share between
 * interleaved async callers (a single SQLite connection mid-transaction).
 * Waiters run in arrival order; a failing holder does not block the rest.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release: () => void = () => undefined;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
