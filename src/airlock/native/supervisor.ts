import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus, LimitNotice, ProcessSandbox, TierName, Usage } from '../sandbox.js';
import { CpuWatch } from './cpu-watch.js';
import {
  cpuKillDetail,
  memoryKillDetail,
  outputKillDetail,
  pidsKillDetail,
  pidsReachedNotice,
  pidsRefusedDetail,
  pidsRefusedNotice,
} from './kill-reasons.js';
import type { WatchLimits } from './limits.js';
import type { OrphanGuard } from './orphan-guard.js';
import { capStream, OutputBudget } from './output-cap.js';
import { watchTaskRefusals } from './pids-watch.js';
import { processTree, readTreeFigures } from './proc-stats.js';
import { ResidentMemory } from './resident-memory.js';
import { stdioDrained } from './stdio-drain.js';

/** Counters the kernel keeps for a sandbox's cgroup (see cgroups/sandbox-cgroup.ts). */
export interface KernelMeter {
  cpuUsageMs(): number | undefined;
  oomKills(): number;
  memoryPeakBytes(): number | undefined;
  /** Forks and thread creations the pids controller refused (`pids.events` max). */
  forksRefused(): number;
  /** `pids.events` itself, watched so the first refusal is told while the workload runs. */
  readonly pidsEventsFile?: string;
}

/** Counters an egress proxy keeps for one sandbox. */
export interface EgressCounters {
  readonly requests: number;
  readonly denied: number;
}

export interface SuperviseOptions {
  readonly id: string;
  readonly tier: TierName;
  /** Spawned with `detached: true` so its pid is also its process group id. */
  readonly child: ChildProcess;
  readonly limits: WatchLimits;
  /** The sandbox's cgroup: CPU and OOM kills counted by the kernel instead of sampled from /proc. */
  readonly meter?: KernelMeter;
  /** The memory limit the cgroup enforces, for the kill message. */
  readonly kernelMemoryBytes?: number;
  /**
   * Where memory is polled: the tier's own count of the workload's memory,
   * its limit and the kill message (gVisor: the sentry's memory file),
   * checked besides the tree's resident memory.
   */
  readonly workloadMemory?: {
    read(): number | undefined;
    readonly limitBytes: number;
    readonly killDetail: string;
  };
  readonly egress?: () => EgressCounters;
  /** Runs once after the workload is gone: temp dirs, proxies, container state. */
  readonly cleanup?: () => Promise<void>;
  /** How long SIGTERM is given before SIGKILL. */
  readonly graceMs?: number;
  /**
   * The RLIMIT_NPROC the workload's tasks run under, when they are the tree's own (hardened; not
   * gVisor, whose sentry enforces it unseen): the kernel counts no refusal of it, so the tree's tasks
   * reaching it is told instead.
   */
  readonly taskLimit?: number;
  /** Kills the workload if this process dies first (see orphan-guard.ts); released once it is gone. */
  readonly guard?: OrphanGuard;
}

/** Tasks of a hardened sandbox's tree outside its RLIMIT_NPROC count: the launcher's guard and bwrap's outer process. */
const OUTSIDE_TASKS = 2;

/** Sends a signal to the process group and to every descendant that left it (setsid). */
function signalTree(pid: number, signal: NodeJS.Signals): void {
  const pids = processTree(pid);
  try {
    process.kill(-pid, signal);
  } catch {
    // The group may already be gone; the descendants below are still tried.
  }
  for (const each of pids) {
    try {
      process.kill(each, signal);
    } catch {
      // Exited between listing and signalling.
    }
  }
}

/**
 * Watches a spawned workload from outside: caps its output, reads its CPU
 * and memory from the kernel's cgroup counters (or /proc where there is no
 * cgroup), kills it when a quota is crossed (naming the quota in `killedBy`
 * and the flag that raises it in `detail`) and turns it into a ProcessSandbox.
 */
export function supervise(options: SuperviseOptions): ProcessSandbox {
  const { child, limits, meter } = options;
  const pid = child.pid;
  if (pid === undefined) throw new Error('supervise() needs a spawned child with a pid');
  const graceMs = options.graceMs ?? 500;
  const startedAt = performance.now();
  const cpuWatch = new CpuWatch(limits, startedAt);
  let endedAt: number | undefined;
  let killedBy: string | undefined;
  let detail: string | undefined;
  let cpuMs = 0;
  let peakBytes = 0;
  const resident = new ResidentMemory();

  const kill = (reason: string, why?: string): void => {
    if (endedAt !== undefined) return;
    if (killedBy === undefined) {
      killedBy = reason;
      detail = why;
    }
    signalTree(pid, 'SIGKILL');
  };

  const budget = new OutputBudget(limits.outputBytes, () =>
    kill('max_output_bytes', outputKillDetail(limits.outputBytes)),
  );
  const stdout = capStream(child.stdout as Readable, budget);
  const stderr = capStream(child.stderr as Readable, budget);

  const oomKilled = (): boolean => meter !== undefined && meter.oomKills() > 0;
  const memoryDetail = (): string =>
    memoryKillDetail(options.kernelMemoryBytes ?? limits.memoryBytes ?? 0, meter !== undefined);

  const sample = (): void => {
    // A fork bomb can outrun one pass of SIGKILL; keep sweeping until the leader is reaped.
    if (killedBy !== undefined) {
      kill(killedBy);
      return;
    }
    // cgroup v1 does not notify pids.events: its count is read with the others.
    refusals?.check();
    const figures = readTreeFigures(pid, limits.maxProcesses);
    if (figures === undefined) return;
    // Two tasks of the tree are not the sandbox's, whose count RLIMIT_NPROC keeps: the launcher's guard
    // and bwrap's outer process (bwrap's pid 1 is). At the limit, the next fork or thread is refused.
    if (options.taskLimit !== undefined && figures.tasks >= options.taskLimit + OUTSIDE_TASKS)
      noticed({ limit: 'pids', detail: pidsReachedNotice(options.taskLimit) });
    cpuMs = Math.max(cpuMs, meter?.cpuUsageMs() ?? figures.cpuMs);
    peakBytes = Math.max(peakBytes, meter?.memoryPeakBytes() ?? figures.peakRssBytes);
    const verdict = cpuWatch.observe(performance.now(), cpuMs, figures.runnable);
    const counted = limits.memoryBytes === undefined ? undefined : options.workloadMemory?.read();
    if (counted !== undefined) peakBytes = Math.max(peakBytes, counted);
    if (oomKilled()) kill('memory', memoryDetail());
    else if (figures.processes > limits.maxProcesses) kill('pids', pidsKillDetail(limits.maxProcesses));
    else if (counted !== undefined && counted > (options.workloadMemory?.limitBytes ?? 0))
      kill('memory', options.workloadMemory?.killDetail);
    else if (
      limits.memoryBytes !== undefined &&
      resident.over(figures, limits.memoryBytes, performance.now())
    )
      kill('memory', memoryDetail());
    else if (verdict !== undefined) kill('cpu', cpuKillDetail(verdict));
  };
  // The first sample one period after the spawn, not during it: at the spawn there is nothing to count yet, and
  // reading the process tree and the cgroup then would only delay the start (the kernel's limits hold meanwhile).
  const timer = setInterval(sample, limits.pollMs);
  timer.unref();

  // Many programs refused a thread or a process do not exit (Chromium waited 110 s at 128): the first
  // refusal is told as it happens, not only with a failed exit. The pids cgroup's are counted in
  // pids.events (watched here); RLIMIT_NPROC's are counted nowhere, so reaching it is (taskLimit).
  let noticed: (notice: LimitNotice) => void = () => undefined;
  const limitNotice = new Promise<LimitNotice>((resolve) => {
    noticed = resolve;
  });
  const pidsEvents = meter?.pidsEventsFile;
  const refusals =
    meter === undefined || pidsEvents === undefined
      ? undefined
      : watchTaskRefusals(
          pidsEvents,
          () => meter.forksRefused(),
          () => noticed({ limit: 'pids', detail: pidsRefusedNotice(limits.maxProcesses) }),
        );

  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaned ??= (options.cleanup ?? (() => Promise.resolve()))().catch(() => undefined);
    return cleaned;
  };

  const exit = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      // The OOM killer may have ended the workload between two samples; the cgroup still says so.
      if (killedBy === undefined && oomKilled()) {
        killedBy = 'memory';
        detail = memoryDetail();
      }
      // A runtime that cannot start a thread or process at the pids limit dies in its own words (or none: runsc
      // exits 2 silently); a failed exit after the kernel refused a task is that limit's doing, and says so.
      const failed = code !== 0 || signal !== null;
      if (killedBy === undefined && failed && (meter?.forksRefused() ?? 0) > 0) {
        killedBy = 'pids';
        detail = pidsRefusedDetail(limits.maxProcesses);
      }
      cpuMs = Math.max(cpuMs, meter?.cpuUsageMs() ?? 0);
      peakBytes = Math.max(peakBytes, meter?.memoryPeakBytes() ?? 0);
      endedAt = performance.now();
      clearInterval(timer);
      refusals?.stop();
      // Anything left in the group after the leader died goes too.
      signalTree(pid, 'SIGKILL');
      const status: ExitStatus =
        killedBy === undefined
          ? { code, signal }
          : { code, signal, killedBy, ...(detail === undefined ? {} : { detail }) };
      // Let the last output drain before callers read it; a reader that never consumes must not stall exit.
      void Promise.all([cleanup(), stdioDrained(child, () => budget.received)]).then(() => {
        options.guard?.release();
        resolve(status);
      });
    });
  });

  return {
    id: options.id,
    tier: options.tier,
    kind: 'process',
    stdin: child.stdin as Writable,
    stdout,
    stderr,
    exit,
    limitNotice,
    usage(): Usage {
      const egress = options.egress?.() ?? { requests: 0, denied: 0 };
      return {
        wallMs: Math.round((endedAt ?? performance.now()) - startedAt),
        cpuMs: Math.round(cpuMs),
        memoryPeakBytes: peakBytes,
        egressRequests: egress.requests,
        egressDenied: egress.denied,
        outputBytes: budget.bytes,
      };
    },
    async stop(): Promise<void> {
      if (endedAt === undefined) {
        signalTree(pid, 'SIGTERM');
        const forced = setTimeout(() => signalTree(pid, 'SIGKILL'), graceMs);
        await exit;
        clearTimeout(forced);
      }
      await exit;
    },
  };
}
