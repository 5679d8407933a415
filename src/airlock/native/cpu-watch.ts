import type { WatchLimits } from './limits.js';

/** How long after start `WatchLimits.startupCpuMs` applies. */
export const STARTUP_WINDOW_MS = 15_000;
/** A stretch ends after this long with no runnable thread and almost no CPU. */
export const IDLE_RESET_MS = 200;
/** "Almost no CPU": the share of one CPU below which a sample counts as idle. */
const IDLE_SHARE = 0.02;

/** Which CPU limit was crossed, with the figures the message needs. */
export type CpuVerdict =
  | {
      readonly limit: 'cpu_ms_per_request' | 'startup_cpu_ms' | 'cpu_ms_total';
      readonly usedMs: number;
      readonly limitMs: number;
    }
  | undefined;

/**
 * Judges CPU from a counter the kernel keeps (the cgroup's usage, or the
 * process tree's utime+stime). Busy stretches are summed until the sandbox
 * has been quiet for IDLE_RESET_MS, so napping between slices of work does
 * not start a new stretch; the lifetime total never resets.
 */
export class CpuWatch {
  private lastCpuMs = 0;
  private lastAt: number;
  private busyMs = 0;
  private quietMs = 0;
  /** Whether the first busy stretch (the start) has ended in an idle wait. */
  private started = false;

  constructor(
    private readonly limits: WatchLimits,
    private readonly startedAt: number,
  ) {
    this.lastAt = startedAt;
  }

  get stretchMs(): number {
    return this.busyMs;
  }

  /**
   * `runnable` says whether a thread of the sandbox is running or waiting for a CPU; it is
   * asked only when the sample used almost no CPU (a busy sample is not quiet either way),
   * since reading it costs a stat file per thread.
   */
  observe(now: number, cpuMs: number, runnable: () => boolean): CpuVerdict {
    const elapsed = Math.max(1, now - this.lastAt);
    const spent = Math.max(0, cpuMs - this.lastCpuMs);
    this.lastAt = now;
    this.lastCpuMs = Math.max(this.lastCpuMs, cpuMs);
    this.busyMs += spent;
    const quiet = spent <= elapsed * IDLE_SHARE && !runnable();
    this.quietMs = quiet ? this.quietMs + elapsed : 0;
    if (this.quietMs >= IDLE_RESET_MS) {
      this.busyMs = 0;
      this.started = true;
    }
    const total = this.limits.cpuTotalMs;
    if (total !== undefined && this.lastCpuMs > total)
      return { limit: 'cpu_ms_total', usedMs: this.lastCpuMs, limitMs: total };
    // Start-up is the first busy stretch, however long a loaded host makes it, and at least the
    // first seconds (a gVisor start waits on its own sentry and gofer between bursts).
    const startingUp = !this.started || now - this.startedAt < STARTUP_WINDOW_MS;
    const startup = this.limits.startupCpuMs ?? 0;
    if (startingUp && startup > this.limits.cpuBusyMs) {
      if (this.busyMs > startup) return { limit: 'startup_cpu_ms', usedMs: this.busyMs, limitMs: startup };
      return undefined;
    }
    if (this.busyMs > this.limits.cpuBusyMs)
      return { limit: 'cpu_ms_per_request', usedMs: this.busyMs, limitMs: this.limits.cpuBusyMs };
    return undefined;
  }
}
