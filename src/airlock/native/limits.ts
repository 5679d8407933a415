import type { Quotas } from '../../capability/manifest.js';

/**
 * The quotas a native supervisor enforces from outside the process, as
 * numbers in the units the supervisor works in.
 */
export interface WatchLimits {
  /** stdout + stderr bytes; the workload is killed when it writes more. */
  readonly outputBytes: number;
  /** Resident memory of the whole process tree. */
  readonly memoryBytes: number;
  /**
   * CPU one uninterrupted busy stretch may use. A served request is a busy
   * stretch between idle waits, so this is `cpu_ms_per_request` without the
   * supervisor having to understand the protocol.
   */
  readonly cpuBusyMs: number;
  /**
   * CPU a busy stretch may use during the first seconds after start, when a
   * tier's own start costs more than a request should (gVisor boots a kernel
   * and runs the runtime's start under ptrace). Default: `cpuBusyMs`.
   */
  readonly startupCpuMs?: number;
  /**
   * Processes in the tree, the tier's own helpers included. A backstop for
   * hosts where RLIMIT_NPROC cannot bind (root) and cgroups are not delegated.
   */
  readonly maxProcesses: number;
  /** How often /proc is sampled. */
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
    pollMs,
  };
}
