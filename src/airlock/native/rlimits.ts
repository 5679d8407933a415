import type { Quotas } from '../../capability/manifest.js';

/** Kernel resource limits applied inside the sandbox before the workload starts. */
export interface Rlimits {
  readonly nofile: number;
  readonly nproc: number;
  readonly fsizeBytes: number;
  readonly asBytes: number;
}

/** Address space beyond `memory_mb`: runtimes such as V8 reserve far more than they touch. */
export const ADDRESS_SPACE_HEADROOM_BYTES = 1024 * 1024 * 1024;
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
    asBytes: quotas.memory_mb * 1024 * 1024 + ADDRESS_SPACE_HEADROOM_BYTES,
  };
}

/**
 * A `prlimit` prefix setting soft and hard limits. It runs inside the
 * sandbox, after bwrap has created the user namespace, so RLIMIT_NPROC counts
 * only the sandbox's processes rather than all of the user's.
 */
export function prlimitArgs(limits: Rlimits): string[] {
  const both = (value: number): string => `${value}:${value}`;
  return [
    '/usr/bin/prlimit',
    `--nofile=${both(limits.nofile)}`,
    `--nproc=${both(limits.nproc)}`,
    `--fsize=${both(limits.fsizeBytes)}`,
    `--as=${both(limits.asBytes)}`,
    '--core=0:0',
    '--',
  ];
}
