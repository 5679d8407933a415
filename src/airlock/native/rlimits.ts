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
}

export const DEFAULT_FILE_SIZE_BYTES = 1024 * 1024 * 1024;

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
  };
}
