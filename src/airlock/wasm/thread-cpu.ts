import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';

/**
 * CPU time of one thread of this process. Linux keeps it per task in
 * /proc/self/task/TID/schedstat (first field: nanoseconds on a CPU). Node 20
 * has no per-thread CPU clock (`process.threadCpuUsage` came in Node 23), so
 * both readers below go through that file; where /proc is missing the caller
 * falls back to wall time, which only ever over-counts (a limit then fires
 * early, never late).
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

/** Milliseconds on a CPU from a schedstat file, or undefined when it cannot be read. */
function schedstatMs(path: string): number | undefined {
  try {
    const ns = Number(readFileSync(path, 'latin1').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds of CPU thread `tid` has used, read from another thread, or wall time when that
 * cannot be read. For a thread that is running, the figure is as of its last scheduler tick (a
 * few ms behind): fine for a watchdog with a 100 ms grace, not for measuring short spans.
 */
export function threadCpuClock(tid: number | undefined): {
  readonly clock: ThreadCpuClock;
  readonly source: 'thread-cpu' | 'wall';
} {
  if (tid !== undefined) {
    const path = `/proc/self/task/${tid}/schedstat`;
    if (schedstatMs(path) !== undefined) {
      let last = 0;
      return {
        clock: () => {
          // A thread that has exited reads as its last value: time stands still, the watchdog's job is done.
          last = schedstatMs(path) ?? last;
          return last;
        },
        source: 'thread-cpu',
      };
    }
  }
  return { clock: () => performance.now(), source: 'wall' };
}

/**
 * The calling thread's own CPU time in milliseconds, exact rather than as of the last tick, for
 * measuring spans as short as one guest slice; undefined where /proc does not give it. The
 * kernel brings a running thread's figure up to date at scheduler events only, and also when that
 * thread asks for its process's usage (getrusage(RUSAGE_SELF), which `process.cpuUsage()` is), so
 * each reading asks for that first. About 2 µs a reading.
 */
export function ownThreadCpuClock(): ThreadCpuClock | undefined {
  // Kept open so a reading is one pread (~1 µs, against ~11 µs to open, read and close it). Node
  // closes the descriptors a worker thread opened through node:fs when that thread exits, even
  // when it is terminated (checked on Node 20), so a guest thread's clock leaks nothing.
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(96);
  const read = (): number | undefined => {
    process.cpuUsage();
    try {
      const length = readSync(fd, buffer, 0, buffer.length, 0);
      const ns = Number(buffer.toString('latin1', 0, length).split(' ')[0]);
      return Number.isFinite(ns) ? ns / 1e6 : undefined;
    } catch {
      return undefined;
    }
  };
  if (read() === undefined) {
    closeSync(fd);
    return undefined;
  }
  let last = 0;
  return () => {
    last = Math.max(last, read() ?? last);
    return last;
  };
}
