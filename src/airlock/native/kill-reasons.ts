import type { CpuVerdict } from './cpu-watch.js';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number): string => `${Math.round(bytes / (1024 * 1024))} MiB`;

/** One line for a CPU kill, naming the flag or manifest field that lifts the limit. */
export function cpuKillDetail(verdict: NonNullable<CpuVerdict>): string {
  const used = `used ${seconds(verdict.usedMs)} of CPU`;
  if (verdict.limit === 'cpu_ms_total')
    return `${used} over its lifetime (limit ${seconds(verdict.limitMs)}); raise with quotas.cpu_ms_total (oacp run: --quota-cpu)`;
  if (verdict.limit === 'startup_cpu_ms')
    return `${used} while starting (limit ${seconds(verdict.limitMs)}); raise with --quota-startup-cpu or quotas.startup_cpu_ms`;
  return `${used} in one busy stretch (limit ${seconds(verdict.limitMs)} per request); raise with --quota-cpu or quotas.cpu_ms_per_request`;
}

export function memoryKillDetail(limitBytes: number, byKernel: boolean): string {
  const how = byKernel
    ? 'the kernel stopped it at the memory limit of'
    : 'resident memory passed the limit of';
  const counted = byKernel ? ' (shared memory, tmpfs and memfd pages included)' : '';
  return `${how} ${mib(limitBytes)}${counted}; raise with --quota-memory or quotas.memory_mb`;
}

export function pidsKillDetail(limit: number): string {
  return `more than ${limit} processes; raise with quotas.max_pids`;
}

/** Said while the workload runs on: the kernel refused it a new process or thread at the pids limit. */
export function pidsRefusedNotice(limit: number): string {
  return `the kernel refused a new process or thread at the limit of ${limit} processes (the workload may hang or fail); raise with quotas.max_pids`;
}

/** Said while the workload runs on: its tasks reached the RLIMIT_NPROC of max_pids, which the kernel does not count refusals of. */
export function pidsReachedNotice(limit: number): string {
  return `the workload reached the limit of ${limit} processes and threads: a new one is refused (the workload may hang or fail); raise with quotas.max_pids`;
}

/** The workload failed after the kernel refused it a new process or thread at the pids limit. */
export function pidsRefusedDetail(limit: number): string {
  return `failed after the kernel refused a new process or thread at the limit of ${limit} processes; raise with quotas.max_pids`;
}

export function outputKillDetail(limit: number): string {
  return `wrote more than ${limit} bytes to stdout and stderr; raise with quotas.max_output_bytes`;
}
