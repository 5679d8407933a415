import type { Quotas } from '../../capability/manifest.js';

/**
 * The quotas a native supervisor enforces from outside the process, as
 * numbers in the units the supervisor works in.
 */
export interface WatchLimits {
  /** stdout + stderr bytes; the workload is killed when it writes more. */
  readonly outputBytes: number;
  /**
   * Resident memory of the whole process tree, polled. Undefined when a
   * memory cgroup enforces `memory_mb` (polled RSS sums would count shared
   * pages twice and miss shm, so the kernel's count is the only one used).
   */
  readonly memoryBytes?: number | undefined;
  /**
   * CPU one busy stretch may use. A stretch ends only when the sandbox has
   * been idle (no runnable thread, almost no CPU) for a while, so a loop that
   * naps between slices stays one stretch. This is `cpu_ms_per_request`
   * without the supervisor having to understand the protocol.
   */
  readonly cpuBusyMs: number;
  /** CPU allowed in the busy stretches of the first seconds after start. Default: `cpuBusyMs`. */
  readonly startupCpuMs?: number;
  /** CPU of the sandbox's whole life (`cpu_ms_total`). */
  readonly cpuTotalMs?: number;
  /**
   * Processes in the tree, the tier's own helpers included. A backstop for
   * hosts where neither RLIMIT_NPROC nor a pids cgroup binds.
   */
  readonly maxProcesses: number;
  /** How often the counters are sampled. */
  readonly pollMs: number;
}

export const DEFAULT_POLL_MS = 50;

/** `helperProcesses`: processes the tier adds around the workload (bwrap, forwarder). */
export function watchLimitsFromQuotas(
  quotas: Quotas,
  pollMs = DEFAULT_POLL_MS,
  helperProcesses = 0,
): WatchLimits {
  return {
    maxProcesses: quotas.max_pids + helperProcesses,
    outputBytes: quotas.max_output_bytes,
    memoryBytes: quotas.memory_mb * 1024 * 1024,
    cpuBusyMs: quotas.cpu_ms_per_request,
    startupCpuMs: quotas.startup_cpu_ms,
    cpuTotalMs: quotas.cpu_ms_total,
    pollMs,
  };
}
