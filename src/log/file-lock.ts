import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { exclusiveLock, tryExclusiveLock, unlock } from '../core/flock.js';
import { logError } from './errors.js';

/**
 * flock(2) (src/core/flock.ts): a kernel lock is what makes a per-batch lock cheap and safe. The kernel
 * drops it when the holder dies (kill -9 included), so there is no stale lock to judge and
 * no pid to trust.
 *
 * The lock is first tried without blocking (LOCK_NB, a plain syscall on the main thread);
 * only when another holder has it does a blocking flock wait in the kernel, on a libuv
 * threadpool thread. (Polling instead was measured 4x slower under load: waiters lose the
 * short gaps between batches.) A blocked waiter holds a threadpool thread, so a process
 * should not open more than a couple of writers on one log (it never needs to).
 */
async function blockingLock(fd: number): Promise<void> {
  try {
    await exclusiveLock(fd);
  } catch (error) {
    throw logError('LOG_FAILED', 'cannot take the log lock', error);
  }
}

function tryLock(fd: number): boolean {
  try {
    return tryExclusiveLock(fd);
  } catch (error) {
    throw logError('LOG_FAILED', 'cannot take the log lock', error);
  }
}

/** How long `withSync` polls on the thread before it waits off the thread. */
const SPIN_MS = 10;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Takes the lock within about SPIN_MS (growing sleeps between tries), or says it did not. */
function acquireSoon(fd: number): boolean {
  let slept = 0;
  for (let pause = 0.05; ; pause = Math.min(pause * 2, 1)) {
    if (tryLock(fd)) return true;
    if (slept >= SPIN_MS) return false;
    Atomics.wait(sleeper, 0, 0, pause);
    slept += pause;
  }
}

/**
 * An exclusive lock on one file, taken and released around short critical sections (one
 * append batch, one round of tile writing). Sections in one process are queued here.
 */
export class FileLock {
  private queue: Promise<unknown> = Promise.resolve();
  /** Sections of this process queued or running through `with`: the fast path must wait its turn. */
  private queued = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<FileLock> {
    try {
      return new FileLock(await open(path, constants.O_RDWR | constants.O_CREAT, 0o644));
    } catch (error) {
      throw logError('LOG_FAILED', `cannot open the lock file ${path}`, error);
    }
  }

  /** Runs `section` while holding the lock; waits while another process holds it. */
  with<T>(section: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const run = this.queue.then(async () => {
      if (!tryLock(this.handle.fd)) await blockingLock(this.handle.fd);
      try {
        return await section();
      } finally {
        unlock(this.handle.fd);
      }
    });
    return this.#settle(run);
  }

  /**
   * Runs `section` under the lock if it is free right now (nobody in this process queued,
   * nobody elsewhere holding it); undefined, without waiting, when it is not.
   */
  tryWith<T>(section: () => Promise<T>): Promise<T> | undefined {
    if (this.queued !== 0 || !tryLock(this.handle.fd)) return undefined;
    this.queued += 1;
    const run = (async () => {
      try {
        return await section();
      } finally {
        unlock(this.handle.fd);
      }
    })();
    return this.#settle(run);
  }

  /** Queues the next section behind `run`, and counts `run` out when it ends. */
  #settle<T>(run: Promise<T>): Promise<T> {
    this.queue = run
      .catch(() => undefined)
      .finally(() => {
        this.queued -= 1;
      });
    return run;
  }

  /**
   * Runs a synchronous `section` under the lock without yielding to the event loop, so the lock
   * is held for the section's own microseconds and never while this thread does other work (an
   * async section holds it across event-loop turns, and on a busy machine across the holder's
   * time slices: the convoy that made eight writers slower than one). When another process
   * holds it, the thread polls for up to SPIN_MS with short sleeps (sections elsewhere are
   * this short too), then waits in the kernel off the thread like `with` (a long holder:
   * `oacp log fsck --repair`, a writer opening a log).
   */
  withSync<T>(section: () => T): Promise<T> {
    if (this.queued === 0 && acquireSoon(this.handle.fd)) {
      try {
        return Promise.resolve(section());
      } catch (error) {
        return Promise.reject(error);
      } finally {
        unlock(this.handle.fd);
      }
    }
    return this.with(async () => section());
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle.close();
  }
}
