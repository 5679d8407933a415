import { createRequire } from 'node:module';

/**
 * flock(2) through fs-ext, the long-standing Node binding for it (Node has no file locking of
 * its own): the one place OACP loads it. The kernel drops a lock when the last descriptor of
 * its open file is closed, the holder's death (kill -9 included) too: a held lock is a live
 * holder, with no pid to trust. Users: the log's sequencer lock (src/log/file-lock.ts), the
 * intent journals, the root workload-id leases, the bridge's held files.
 */
type FsExt = {
  flockSync(fd: number, flags: 'exnb' | 'un'): void;
  flock(fd: number, flags: 'ex', callback: (error: Error | null) => void): void;
};

const binding = createRequire(import.meta.url)('fs-ext') as FsExt;

/**
 * Takes an exclusive lock on `fd` without waiting (LOCK_NB, a plain system call on this
 * thread): false when another open file holds it; any other failure is thrown.
 */
export function tryExclusiveLock(fd: number): boolean {
  try {
    binding.flockSync(fd, 'exnb');
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return false;
    throw error;
  }
}

/**
 * Waits for an exclusive lock on `fd` in the kernel, on a libuv threadpool thread (a blocked
 * waiter holds that thread until it gets the lock); rejects with the system's error.
 */
export function exclusiveLock(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    binding.flock(fd, 'ex', (error) => (error === null || error === undefined ? resolve() : reject(error)));
  });
}

/** Releases this open file's lock on `fd`. */
export function unlock(fd: number): void {
  binding.flockSync(fd, 'un');
}
