import { readdirSync, readFileSync } from 'node:fs';

/**
 * Reads CPU and memory figures of a process tree from /proc. Sampling is the
 * only portable source when cgroup v2 is not delegated to us; it misses work
 * done entirely between two samples, which the docs state.
 */

/** USER_HZ is 100 on every Linux ABI Node supports (x86_64, aarch64). */
const TICKS_PER_SECOND = 100;

export interface ProcessFigures {
  /** utime + stime + cutime + cstime, in milliseconds. */
  readonly cpuMs: number;
  /** Summed VmRSS: a page mapped by N processes of the tree counts N times (see resident-memory.ts). */
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  /** VmRSS of each process of the tree, by pid. */
  readonly rssByPid: ReadonlyMap<number, number>;
  /** Live processes in the tree, the root included. */
  readonly processes: number;
  /** Their threads (`Threads:` of each status): the tasks RLIMIT_NPROC and the pids controller count. */
  readonly tasks: number;
  /**
   * Whether any thread in the tree is running or waiting for a CPU (state R), read when asked:
   * one stat file per thread, which a watcher needs only when the tree used almost no CPU.
   */
  runnable(): boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU of one process including children it has reaped; undefined once it is gone. */
export function readCpuMs(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : cpuMsOf(stat);
}

function cpuMsOf(stat: string): number {
  // The command name may contain spaces and parentheses; fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime..cstime are fields 14..17.
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

function readStatusKb(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
}

/** Current and peak resident memory of one process; undefined once it is gone. */
export function readMemory(
  pid: number,
): { rssBytes: number; peakRssBytes: number; threads: number } | undefined {
  const status = readText(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  const threads = /^Threads:\s+(\d+)/m.exec(status)?.[1];
  return {
    rssBytes: readStatusKb(status, 'VmRSS'),
    peakRssBytes: readStatusKb(status, 'VmHWM'),
    threads: threads === undefined ? 1 : Number(threads),
  };
}

/**
 * Proportional set size of one process (smaps_rollup's `Pss`): each page
 * divided among the processes mapping it. A page-table walk, so costly;
 * undefined once the process is gone or the file cannot be read.
 */
export function readProportionalBytes(pid: number): number | undefined {
  const rollup = readText(`/proc/${pid}/smaps_rollup`);
  const match = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** True when any thread of the process is in state R; a starved busy loop is still R. */
export function hasRunnableThread(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tasks.some((tid) => {
    const stat = readText(`/proc/${pid}/task/${tid}/stat`);
    return stat !== undefined && stat.charAt(stat.lastIndexOf(')') + 2) === 'R';
  });
}

function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) =>
    (readText(`/proc/${pid}/task/${tid}/children`) ?? '')
      .split(' ')
      .filter((part) => part.length > 0)
      .map(Number),
  );
}

/**
 * The root and every live descendant, breadth first. The walk stops once it
 * has found more than `limit` processes, so a fork bomb cannot make the
 * supervisor itself slow.
 */
export function processTree(root: number, limit = Number.POSITIVE_INFINITY): number[] {
  const seen = new Set<number>([root]);
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined && seen.size <= limit; pid = queue.shift()) {
    for (const child of childrenOf(pid)) {
      if (!seen.has(child)) {
        seen.add(child);
        queue.push(child);
      }
    }
  }
  return [...seen];
}

/** Sums the figures of a whole process tree; undefined when the root is gone. */
export function readTreeFigures(root: number, processLimit?: number): ProcessFigures | undefined {
  const rootStat = readText(`/proc/${root}/stat`);
  if (rootStat === undefined) return undefined;
  let cpuMs = 0;
  let rssBytes = 0;
  let peakRssBytes = 0;
  let tasks = 0;
  const rssByPid = new Map<number, number>();
  const tree = processTree(root, processLimit);
  for (const pid of tree) {
    // The root's stat was read a moment ago, to know it is alive: not read twice per sample.
    cpuMs += pid === root ? cpuMsOf(rootStat) : (readCpuMs(pid) ?? 0);
    const memory = readMemory(pid);
    rssBytes += memory?.rssBytes ?? 0;
    tasks += memory?.threads ?? 0;
    rssByPid.set(pid, memory?.rssBytes ?? 0);
    peakRssBytes = Math.max(peakRssBytes, memory?.peakRssBytes ?? 0);
  }
  let runnable: boolean | undefined;
  return {
    cpuMs,
    rssBytes,
    peakRssBytes: Math.max(peakRssBytes, rssBytes),
    rssByPid,
    processes: tree.length,
    tasks,
    runnable: () => {
      runnable ??= tree.some(hasRunnableThread);
      return runnable;
    },
  };
}
