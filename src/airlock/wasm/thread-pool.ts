import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { OacpError } from '../../core/errors.js';
import type { WasmErrorCode } from './errors.js';
import { GuestThread } from './guest-thread.js';
import type { EngineReport, ModulePoolOptions, PoolStats } from './module-pool.js';

export interface GuestThreadPoolOptions extends ModulePoolOptions {
  /**
   * Where the QuickJS modules' own output and their retirements (with the
   * reason: an engine failure, a runtime that could not be freed) go; the
   * gateway logs them. Unset: they are dropped, never written raw to stderr.
   */
  readonly onEngineReport?: EngineReport;
  /** Guest threads to spread sandboxes over (default: the host's available parallelism, at least 2). */
  readonly threads?: number;
  /**
   * V8 limits of each guest thread (QuickJS's linear memory is bounded by the module pool); what is
   * not given keeps its default. `stackSizeMb` may not go below MIN_GUEST_STACK_MB.
   */
  readonly threadResourceLimits?: ResourceLimits;
}

/** How often the watchdog looks at every guest thread. */
const WATCHDOG_MS = 20;
/**
 * QuickJS runs on the guest thread's own (V8) stack as well as on its 256 KiB
 * guest stack, and its parser spends far more of the first per level than its
 * interpreter: with Node's default of 4 MiB, `eval('('.repeat(1e5) + ...)`
 * overflowed V8's stack before QuickJS's own check, which retired the module
 * and left the unwound frames' part of the module's C stack in use, so every
 * neighbour in it could recurse less deep (1,200 levels before, 500 after one
 * such eval, none after two). From 8 MiB QuickJS's check comes first for every
 * nesting tried (test/escape/wasm-isolation.test.ts); 16 MiB keeps a margin.
 */
export const MIN_GUEST_STACK_MB = 8;
const DEFAULT_LIMITS: ResourceLimits = {
  maxOldGenerationSizeMb: 1024,
  maxYoungGenerationSizeMb: 64,
  stackSizeMb: 16,
};

/**
 * The guest threads of one standard tier. A new sandbox goes to the least
 * loaded thread, and a new thread is started while every live one already
 * holds sandboxes and the cap allows, so guests spread over the host's cores.
 * A thread that was terminated (a guest stuck in a native call, a crash) is
 * dropped and replaced on demand. The watchdog runs on the gateway's thread,
 * which guest code never occupies.
 */
export class GuestThreadPool {
  private readonly threads: GuestThread[] = [];
  private spawning: Promise<GuestThread> | undefined;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private readonly maxThreads: number;

  private readonly limits: ResourceLimits;

  private constructor(private readonly options: GuestThreadPoolOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.threadResourceLimits };
    this.maxThreads = Math.max(1, options.threads ?? Math.max(2, availableParallelism()));
    this.watchdog = setInterval(() => {
      for (const thread of this.threads) thread.check();
    }, WATCHDOG_MS);
    this.watchdog.unref();
  }

  /** Starts the first thread now, so a host that cannot run one fails here and not on first use. */
  static async create(options: GuestThreadPoolOptions = {}): Promise<GuestThreadPool> {
    const stackMb = options.threadResourceLimits?.stackSizeMb;
    if (stackMb !== undefined && !(stackMb >= MIN_GUEST_STACK_MB)) {
      throw new OacpError<WasmErrorCode>(
        'WASM_UNAVAILABLE',
        `threadResourceLimits.stackSizeMb ${stackMb} is below ${MIN_GUEST_STACK_MB}: QuickJS's parser would overflow the guest thread's stack before its own stack check, which damages the module for every guest in it`,
      );
    }
    const pool = new GuestThreadPool(options);
    try {
      await pool.spawn();
    } catch (error) {
      clearInterval(pool.watchdog);
      throw error;
    }
    return pool;
  }

  /** The thread a new sandbox should live on. */
  async place(): Promise<GuestThread> {
    this.prune();
    let least: GuestThread | undefined;
    for (const thread of this.threads)
      if (least === undefined || thread.load() < least.load()) least = thread;
    if (least !== undefined && (least.load() === 0 || this.threads.length >= this.maxThreads)) return least;
    if (least === undefined) return this.spawn();
    if (this.spawning !== undefined) return least;
    // Spreading is a preference: a thread that cannot start leaves the guest on a live one.
    return this.spawn().catch(() => least);
  }

  stats(): PoolStats {
    this.prune();
    const total = { modules: 0, retiredModules: 0, sandboxes: 0, reservedBytes: 0, linearMemoryBytes: 0 };
    for (const thread of this.threads) {
      const stats = thread.stats();
      total.modules += stats.modules;
      total.retiredModules += stats.retiredModules;
      total.sandboxes += stats.sandboxes;
      total.reservedBytes += stats.reservedBytes;
      total.linearMemoryBytes += stats.linearMemoryBytes;
    }
    return total;
  }

  /** How the watchdog measures a guest thread's CPU (per-thread CPU time, or wall time where that is unreadable). */
  cpuSource(): 'thread-cpu' | 'wall' | undefined {
    this.prune();
    return this.threads[0]?.cpuSource;
  }

  threadCount(): number {
    this.prune();
    return this.threads.length;
  }

  /** Terminates every thread; their sandboxes fail with WASM_STOPPED. */
  close(): void {
    clearInterval(this.watchdog);
    for (const thread of this.threads.splice(0))
      thread.terminate(undefined, 'crash', 'the standard tier was closed');
  }

  private prune(): void {
    for (let i = this.threads.length - 1; i >= 0; i--)
      if (this.threads[i]?.isDead()) this.threads.splice(i, 1);
  }

  private spawn(): Promise<GuestThread> {
    if (this.spawning !== undefined) return this.spawning;
    const spawning = GuestThread.spawn({
      pool: modulePoolOptions(this.options),
      resourceLimits: this.limits,
      onEngineReport: this.options.onEngineReport ?? (() => undefined),
    }).then(
      (thread) => {
        this.spawning = undefined;
        this.threads.push(thread);
        return thread;
      },
      (error: unknown) => {
        this.spawning = undefined;
        throw error;
      },
    );
    this.spawning = spawning;
    return spawning;
  }
}

/** Only the module pool's own numbers cross to a guest thread (the tier's options may hold functions). */
function modulePoolOptions(options: ModulePoolOptions): ModulePoolOptions {
  const keys = ['sandboxesPerModule', 'moduleHeapBudgetBytes', 'overcommit', 'maxModules'] as const;
  const picked: { -readonly [K in (typeof keys)[number]]?: number } = {};
  for (const key of keys) {
    const value = options[key];
    if (value !== undefined) picked[key] = value;
  }
  return picked;
}
