import { type FSWatcher, watch } from 'node:fs';

/** The first refusal, told once; `check` reads the count again, `stop` ends the watch. */
export interface TaskRefusalWatch {
  check(): void;
  stop(): void;
}

/**
 * Calls `onRefused` once, at the first task the pids controller refuses.
 * Where the kernel notifies a change of `pids.events` (cgroup v2: inotify
 * IN_MODIFY, as for `memory.events`) that is at the refusal, without a
 * timer. A cgroup v1 `pids.events` is not notified (measured on 6.18: its
 * `cgroup.procs` is, it is not), so `check` is also called by the
 * supervisor's existing sample of the cgroup's counters. `refused` reads the
 * count (`max`); it is read once at the start too, for a refusal before the
 * watch was set.
 */
export function watchTaskRefusals(
  file: string,
  refused: () => number,
  onRefused: () => void,
): TaskRefusalWatch {
  let watcher: FSWatcher | undefined;
  let told = false;
  const stop = (): void => {
    watcher?.close();
    watcher = undefined;
  };
  const check = (): void => {
    if (told || refused() === 0) return;
    told = true;
    stop();
    onRefused();
  };
  try {
    watcher = watch(file, { persistent: false }, check);
    // A cgroup removed under the watch ends it; the exit still reads the count (supervisor.ts).
    watcher.on('error', stop);
  } catch {
    // No watch (the file is gone): the sample and the failed exit still read the count.
  }
  check();
  return { check, stop };
}
