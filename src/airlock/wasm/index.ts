// The standard tier: JavaScript in QuickJS/WebAssembly. See docs/standard-tier.md.
export { benchIdleSandboxes, type IdleBenchOptions, type IdleBenchResult } from './bench.js';

export type { WasmErrorCode } from './errors.js';
export type { GuestFetchRequest, GuestFetchResponse, GuestLogEntry, HostBindings } from './host-bindings.js';
export {
  type ModuleLease,
  type ModulePoolOptions,
  type PoolStats,
  QuickJsModulePool,
} from './module-pool.js';
export { StandardTier, type StandardTierOptions } from './standard-tier.js';
export {
  type CodeSpec,
  MAX_STACK_BYTES,
  memoryLimitBytes,
  WasmSandbox,
  type WasmSandboxOptions,
} from './wasm-sandbox.js';
