import { readFileSync, readlinkSync } from 'node:fs';

/**
 * CPU time of one thread of this process, read from outside that thread.
 * Linux keeps it per task in /proc/self/task/TID/schedstat (first field:
 * nanoseconds on a CPU). Node 20 has no portable per-thread CPU clock that
 * another thread can read, so where /proc is missing the caller falls back
 * to wall time, which only ever over-counts (a limit then fires early, never
 * late).
 */
export type ThreadCpuClock = () => number;

/** Inside a worker: its kernel thread id, or undefined where /proc does not say. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds of CPU thread `tid` has used, or wall time when that cannot be read. */
export function threadCpuClock(tid: number | undefined): {
  readonly clock: ThreadCpuClock;
  readonly source: 'thread-cpu' | 'wall';
} {
  if (tid !== undefined) {
    const path = `/proc/self/task/${tid}/schedstat`;
    const read = (): number | undefined => {
      try {
        const ns = Number(readFileSync(path, 'latin1').split(' ')[0]);
        return Number.isFinite(ns) ? ns / 1e6 : undefined;
      } catch {
        return undefined;
      }
    };
    if (read() !== undefined) {
      let last = 0;
      return {
        clock: () => {
          // A thread that has exited reads as its last value: time stands still, the watchdog's job is done.
          last = read() ?? last;
          return last;
        },
        source: 'thread-cpu',
      };
    }
  }
  return { clock: () => performance.now(), source: 'wall' };
}
