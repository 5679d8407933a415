import { createRequire } from 'node:module';

/**
 * flock(2) through fs-ext, the long-standing Node binding for it (Node has no file locking of
 * its own). The kernel drops a lock when the last descriptor of its open file is closed, the
 * holder's death (kill -9 included) too: a held lock is a live holder, with no pid to trust.
 */
type FlockSync = (fd: number, flags: 'exnb' | 'un') => void;

function binding(): { flockSync: FlockSync } {
  return createRequire(import.meta.url)('fs-ext') as { flockSync: FlockSync };
}

/** Takes an exclusive lock on `fd` without waiting: false when another open file holds it. */
export function tryExclusiveLock(fd: number): boolean {
  try {
    binding().flockSync(fd, 'exnb');
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return false;
    throw error;
  }
}
