import type { Quotas } from '../../capability/manifest.js';

/**
 * Kernel resource limits applied inside the sandbox before the workload
 * starts. No RLIMIT_AS: V8 and WebAssembly reserve address space far beyond
 * what they touch (`WebAssembly.instantiate(): Out of memory`); memory is
 * the memory cgroup's job, which counts what is charged, shm included.
 */
export interface Rlimits {
  readonly nofile: number;
  readonly nproc: number;
  readonly fsizeBytes: number;
  /** Signals queued at once (RLIMIT_SIGPENDING), POSIX timers included: each reserves one. */
  readonly sigpending: number;
  /** Bytes of POSIX message queues (RLIMIT_MSGQUEUE). */
  readonly msgqueueBytes: number;
}

export const DEFAULT_FILE_SIZE_BYTES = 1024 * 1024 * 1024;

/**
 * RLIMIT_SIGPENDING and RLIMIT_MSGQUEUE are counted per host uid, across user
 * namespaces: a sandbox of a regular user (which runs as that user) holding
 * all of them (96,367 POSIX timers on a 24 GB host; 819,200 bytes, nine
 * queues of the default size) left the user's own programs none:
 * timer_create() and sigqueue() failed with EAGAIN, mq_open() with EMFILE.
 * A sandbox gets a small share (the launcher keeps it at most the invoker's
 * hard limit): 1,024 queued signals, and two message queues of the default
 * size (10 messages of 8 KiB, with the kernel's overhead).
 */
export const SANDBOX_SIGPENDING = 1024;
export const SANDBOX_MSGQUEUE_BYTES = 204_800;

/**
 * `extraProcesses` are the tier's own helpers (the egress forwarder) that
 * share the limit with the workload.
 */
export function rlimitsFromQuotas(
  quotas: Quotas,
  options: { extraProcesses?: number; fileSizeBytes?: number } = {},
): Rlimits {
  return {
    nofile: quotas.max_open_files,
    nproc: quotas.max_pids + (options.extraProcesses ?? 0),
    fsizeBytes: options.fileSizeBytes ?? DEFAULT_FILE_SIZE_BYTES,
    sigpending: SANDBOX_SIGPENDING,
    msgqueueBytes: SANDBOX_MSGQUEUE_BYTES,
  };
}
