import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { logError } from './errors.js';

/**
 * flock(2) through fs-ext, the long-standing Node binding for it: Node has no file locking
 * of its own, and a kernel lock is what makes a per-batch lock cheap and safe. The kernel
 * drops it when the holder dies (kill -9 included), so there is no stale lock to judge,
 * no pid to trust, and a blocked waiter sleeps in the kernel instead of polling.
 */
type Flock = (
  fd: number,
  flags: 'ex' | 'sh' | 'un' | 'exnb',
  callback: (error: Error | null) => void,
) => void;
const { flock } = createRequire(import.meta.url)('fs-ext') as { flock: Flock };

function call(fd: number, flags: 'ex' | 'un' | 'exnb'): Promise<void> {
  return new Promise((resolve, reject) => {
    flock(fd, flags, (error) => (error === null || error === undefined ? resolve() : reject(error)));
  });
}

/**
 * An exclusive lock on one file, taken and released around short critical sections (one
 * append batch, one round of tile writing). Sections in one process are queued here, so the
 * threadpool never holds two blocked flock calls for the same handle.
 */
export class FileLock {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<FileLock> {
    try {
      return new FileLock(await open(path, constants.O_RDWR | constants.O_CREAT, 0o644));
    } catch (error) {
      throw logError('LOG_FAILED', `cannot open the lock file ${path}`, error);
    }
  }

  /** Runs `section` while holding the lock; waits (in the kernel) while another process holds it. */
  with<T>(section: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      await call(this.handle.fd, 'ex');
      try {
        return await section();
      } finally {
        await call(this.handle.fd, 'un');
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle.close();
  }
}
