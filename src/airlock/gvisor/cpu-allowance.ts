/**
 * CPU the gVisor sandbox may spend starting up, on top of the workload's own
 * allowance: booting the sentry and the gofer (docs/resources.md, "gVisor").
 */
export const GVISOR_BOOT_CPU_MS = 2_000;

/**
 * How much more CPU a runtime's start costs under the ptrace platform than
 * natively: every syscall is a round trip through the sentry, and a runtime
 * loading its modules makes thousands (stat, open, read, mmap). Measured as the
 * sandbox cgroup's CPU to the first `tools/list` answer, beside the same
 * server started directly (docs/resources.md): task-master-ai 3.3 s and
 * 11.5 s, server-memory 0.27 s and 1.1-1.3 s (the sentry's boot included).
 */
export const GVISOR_PTRACE_CPU_FACTOR = 4;

/**
 * The start-up allowance of a gVisor sandbox for a manifest's `startup_cpu_ms`
 * (sized for a native start): scaled by the ptrace platform's cost, plus the
 * sentry's boot. `oacp run --quota-cpu` sets `startup_cpu_ms` to 0, leaving
 * the boot alone.
 */
export function gvisorStartupCpuMs(startupCpuMs: number): number {
  return startupCpuMs * GVISOR_PTRACE_CPU_FACTOR + GVISOR_BOOT_CPU_MS;
}
