import type { Availability, TierName } from '../sandbox.js';
import type { PoolStats } from './module-pool.js';
import { GuestThreadPool, type GuestThreadPoolOptions } from './thread-pool.js';
import { type CodeSpec, WasmSandbox, type WasmSandboxOptions } from './wasm-sandbox.js';

export interface StandardTierOptions extends GuestThreadPoolOptions {
  /** Defaults for every sandbox; a spec's own options override them. */
  readonly sandbox?: WasmSandboxOptions;
}

/**
 * The standard tier: JavaScript in QuickJS/WebAssembly on guest threads of
 * this process. One instance per process is plenty (it owns the threads and
 * their module pools); make more in tests for isolation. Nothing here is global.
 */
export class StandardTier {
  readonly name: TierName = 'standard';

  private constructor(
    private readonly pool: GuestThreadPool,
    private readonly defaults: WasmSandboxOptions,
  ) {}

  static async create(options: StandardTierOptions = {}): Promise<StandardTier> {
    return new StandardTier(await GuestThreadPool.create(options), options.sandbox ?? {});
  }

  async availability(): Promise<Availability> {
    const cpu =
      this.pool.cpuSource() === 'wall'
        ? 'wall time (per-thread CPU is not readable on this host, so limits may fire early)'
        : 'per-thread CPU time from /proc/self/task/TID/schedstat';
    return {
      available: true,
      detail: `QuickJS compiled to WebAssembly (quickjs-emscripten 0.32, release-sync), one runtime per sandbox, on guest threads whose CPU the gateway's thread watches by ${cpu}`,
    };
  }

  start(spec: CodeSpec): Promise<WasmSandbox> {
    return WasmSandbox.start(this.pool, { ...spec, options: { ...this.defaults, ...spec.options } });
  }

  /** Module-pool figures summed over the guest threads, as of each thread's last report. */
  stats(): PoolStats {
    return this.pool.stats();
  }

  /** Guest threads alive now. */
  threads(): number {
    return this.pool.threadCount();
  }

  /** Terminates the guest threads; their sandboxes fail with WASM_STOPPED. */
  close(): void {
    this.pool.close();
  }
}
