/** How a crashed agent is restarted. */
export interface RestartPolicy {
  /** Delay before the first restart; doubles with each consecutive crash. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive crashes after which the watchdog gives up (the agent is marked failed). */
  readonly maxRestarts: number;
  /** A sandbox up this long without crashing counts as healthy again (the crash count resets). */
  readonly stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  maxRestarts: 5,
  stableAfterMs: 60_000,
};

export type WatchdogEvent =
  | {
      readonly type: 'crashed';
      readonly key: string;
      readonly reason: string;
      readonly attempt: number;
      readonly delayMs: number;
    }
  | { readonly type: 'restarted'; readonly key: string; readonly attempt: number }
  | {
      readonly type: 'restart-failed';
      readonly key: string;
      readonly attempt: number;
      readonly reason: string;
    }
  | { readonly type: 'gave-up'; readonly key: string; readonly reason: string; readonly crashes: number };

/** Timers, injectable so tests drive time instead of waiting. */
export interface Timers {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (run, ms) => {
    const handle = setTimeout(run, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Watch {
  crashes: number;
  startedAt: number;
  timer?: unknown;
}

/**
 * Restarts what crashed, with exponential backoff (initial, 2x, 4x, … capped at
 * maxDelayMs), and gives up after `maxRestarts` consecutive crashes. A restart
 * that itself fails counts as one more crash. `healthy` (a successful run) or
 * staying up for `stableAfterMs` resets the count.
 */
export class Watchdog {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly policy: RestartPolicy,
    private readonly onEvent: (event: WatchdogEvent) => void,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Starts watching `key` (it was just started). */
  watch(key: string): void {
    const existing = this.watches.get(key);
    if (existing !== undefined) {
      existing.startedAt = this.timers.now();
      return;
    }
    this.watches.set(key, { crashes: 0, startedAt: this.timers.now() });
  }

  healthy(key: string): void {
    const watch = this.watches.get(key);
    if (watch !== undefined) watch.crashes = 0;
  }

  /** Whether a restart is pending for `key`. */
  restarting(key: string): boolean {
    return this.watches.get(key)?.timer !== undefined;
  }

  /**
   * Reports a crash; `restart` is called after the backoff and must throw if
   * the restart failed. Returns false when the watchdog gave up instead.
   */
  crashed(key: string, reason: string, restart: () => Promise<void>): boolean {
    const watch = this.watches.get(key) ?? { crashes: 0, startedAt: this.timers.now() };
    this.watches.set(key, watch);
    if (watch.timer !== undefined) return true;
    if (this.timers.now() - watch.startedAt >= this.policy.stableAfterMs) watch.crashes = 0;
    watch.crashes += 1;
    if (watch.crashes > this.policy.maxRestarts) {
      this.watches.delete(key);
      this.onEvent({ type: 'gave-up', key, reason, crashes: watch.crashes });
      return false;
    }
    const attempt = watch.crashes;
    const delayMs = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (attempt - 1));
    this.onEvent({ type: 'crashed', key, reason, attempt, delayMs });
    watch.timer = this.timers.setTimeout(() => {
      watch.timer = undefined;
      if (this.watches.get(key) !== watch) return;
      watch.startedAt = this.timers.now();
      restart().then(
        () => this.onEvent({ type: 'restarted', key, attempt }),
        (error: unknown) => {
          const why = error instanceof Error ? error.message : String(error);
          this.onEvent({ type: 'restart-failed', key, attempt, reason: why });
          this.crashed(key, `restart failed: ${why}`, restart);
        },
      );
    }, delayMs);
    return true;
  }

  /** Stops watching `key` (suspended, retired) and cancels a pending restart. */
  forget(key: string): void {
    const watch = this.watches.get(key);
    if (watch?.timer !== undefined) this.timers.clearTimeout(watch.timer);
    this.watches.delete(key);
  }

  close(): void {
    for (const key of [...this.watches.keys()]) this.forget(key);
  }
}
