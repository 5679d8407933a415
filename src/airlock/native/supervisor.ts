import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus, ProcessSandbox, TierName, Usage } from '../sandbox.js';
import type { WatchLimits } from './limits.js';
import { capStream, OutputBudget } from './output-cap.js';
import { processTree, readTreeFigures } from './proc-stats.js';

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
  readonly egress?: () => EgressCounters;
  /** Runs once after the workload is gone: temp dirs, proxies, container state. */
  readonly cleanup?: () => Promise<void>;
  /** How long SIGTERM is given before SIGKILL. */
  readonly graceMs?: number;
}

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

function stdioClosed(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Watches a spawned workload from outside: caps its output, samples its CPU
 * and memory from /proc, kills it when a quota is crossed (naming the quota in
 * `killedBy`) and turns it into a ProcessSandbox.
 */
/** How long after start `WatchLimits.startupCpuMs` applies. */
const STARTUP_WINDOW_MS = 15_000;

export function supervise(options: SuperviseOptions): ProcessSandbox {
  const { child, limits } = options;
  const pid = child.pid;
  if (pid === undefined) throw new Error('supervise() needs a spawned child with a pid');
  const graceMs = options.graceMs ?? 500;
  const startedAt = performance.now();
  let endedAt: number | undefined;
  let killedBy: string | undefined;
  let cpuMs = 0;
  let peakBytes = 0;
  let busyCpuMs = 0;
  let lastCpuMs = 0;

  const kill = (reason: string): void => {
    if (endedAt !== undefined) return;
    killedBy ??= reason;
    signalTree(pid, 'SIGKILL');
  };

  const budget = new OutputBudget(limits.outputBytes, () => kill('max_output_bytes'));
  const stdout = capStream(child.stdout as Readable, budget);
  const stderr = capStream(child.stderr as Readable, budget);

  const sample = (): void => {
    // A fork bomb can outrun one pass of SIGKILL; keep sweeping until the leader is reaped.
    if (killedBy !== undefined) {
      kill(killedBy);
      return;
    }
    const figures = readTreeFigures(pid, limits.maxProcesses);
    if (figures === undefined) return;
    cpuMs = Math.max(cpuMs, figures.cpuMs);
    peakBytes = Math.max(peakBytes, figures.peakRssBytes);
    const spent = Math.max(0, cpuMs - lastCpuMs);
    // A tree with no runnable thread is waiting (for a request, for I/O): the busy stretch ends.
    // Judging by state rather than CPU share keeps a starved busy loop on a loaded host busy.
    busyCpuMs = figures.runnable ? busyCpuMs + spent : 0;
    lastCpuMs = cpuMs;
    // Start-up may wait on itself (the gVisor sentry, a runtime loading modules), so it is a time window, not a stretch.
    const startingUp = performance.now() - startedAt < STARTUP_WINDOW_MS;
    const cpuLimit = startingUp ? Math.max(limits.cpuBusyMs, limits.startupCpuMs ?? 0) : limits.cpuBusyMs;
    if (figures.processes > limits.maxProcesses) kill('pids');
    else if (figures.rssBytes > limits.memoryBytes) kill('memory');
    else if (busyCpuMs > cpuLimit) kill('cpu');
  };
  sample();
  const timer = setInterval(sample, limits.pollMs);
  timer.unref();

  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaned ??= (options.cleanup ?? (() => Promise.resolve()))().catch(() => undefined);
    return cleaned;
  };

  const exit = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      endedAt = performance.now();
      clearInterval(timer);
      // Anything left in the group after the leader died goes too.
      signalTree(pid, 'SIGKILL');
      const status: ExitStatus = killedBy === undefined ? { code, signal } : { code, signal, killedBy };
      // Let the last output drain before callers read it; a reader that never consumes must not stall exit.
      void Promise.all([cleanup(), stdioClosed(child, 1_000)]).then(() => resolve(status));
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
