import type { Availability, TierName } from '../sandbox.js';
import { type ModulePoolOptions, type PoolStats, QuickJsModulePool } from './module-pool.js';
import { type CodeSpec, WasmSandbox, type WasmSandboxOptions } from './wasm-sandbox.js';

export interface StandardTierOptions extends ModulePoolOptions {
  /** Defaults for every sandbox; a spec's own options override them. */
  readonly sandbox?: WasmSandboxOptions;
}

/**
 * The standard tier: JavaScript in QuickJS/WebAssembly inside this process.
 * One instance per process is plenty (it owns the module pool); make more in
 * tests for isolation. Nothing here is global.
 */
export class StandardTier {
  readonly name: TierName = 'standard';

  private constructor(
    private readonly pool: QuickJsModulePool,
    private readonly defaults: WasmSandboxOptions,
  ) {}

  static async create(options: StandardTierOptions = {}): Promise<StandardTier> {
    return new StandardTier(await QuickJsModulePool.create(options), options.sandbox ?? {});
  }

  async availability(): Promise<Availability> {
    return {
      available: true,
      detail:
        'QuickJS compiled to WebAssembly (quickjs-emscripten 0.32, release-sync), one runtime per sandbox',
    };
  }

  start(spec: CodeSpec): Promise<WasmSandbox> {
    return WasmSandbox.start(this.pool, { ...spec, options: { ...this.defaults, ...spec.options } });
  }

  stats(): PoolStats {
    return this.pool.stats();
  }
}
