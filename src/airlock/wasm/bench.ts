import { parseManifest } from '../../capability/parse.js';
import { StandardTier, type StandardTierOptions } from './standard-tier.js';
import type { WasmSandbox } from './wasm-sandbox.js';

export interface IdleBenchResult {
  readonly count: number;
  readonly createMsP50: number;
  readonly createMsP99: number;
  /** Resident set growth divided by `count` (includes module and guest-thread overhead). */
  readonly rssBytesPerSandbox: number;
  /** WebAssembly linear memory growth divided by `count`. */
  readonly linearBytesPerSandbox: number;
  readonly modules: number;
  /** `run('1 + 1')` on one of the idle sandboxes, median of 200. */
  readonly runMsP50: number;
  /** Stops every sandbox the bench created. */
  stop(): Promise<void>;
}

export interface IdleBenchOptions {
  readonly count: number;
  /** Guest heap limit; it is also what each sandbox reserves in its module (default 4). */
  readonly memoryMb?: number;
  readonly tier?: StandardTierOptions;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/**
 * Creates `count` idle standard-tier sandboxes in one tier and reports what
 * each cost. For the bench harness; creation is sequential, as a gateway
 * admitting requests would do it.
 */
export async function benchIdleSandboxes(options: IdleBenchOptions): Promise<IdleBenchResult> {
  const manifest = parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'bench-idle',
    quotas: { memory_mb: options.memoryMb ?? 4 },
  });
  const tier = await StandardTier.create(options.tier ?? {});
  const sandboxes: WasmSandbox[] = [];
  const times: number[] = [];
  const rssBefore = process.memoryUsage().rss;
  const linearBefore = tier.stats().linearMemoryBytes;
  for (let i = 0; i < options.count; i++) {
    const started = performance.now();
    sandboxes.push(await tier.start({ manifest }));
    times.push(performance.now() - started);
  }
  const rssAfter = process.memoryUsage().rss;
  const stats = tier.stats();
  const runs: number[] = [];
  const probe = sandboxes[0];
  for (let i = 0; probe !== undefined && i < 200; i++) {
    const started = performance.now();
    await probe.run('1 + 1');
    runs.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  runs.sort((a, b) => a - b);
  return {
    count: options.count,
    createMsP50: percentile(times, 0.5),
    createMsP99: percentile(times, 0.99),
    rssBytesPerSandbox: (rssAfter - rssBefore) / Math.max(1, options.count),
    linearBytesPerSandbox: (stats.linearMemoryBytes - linearBefore) / Math.max(1, options.count),
    modules: stats.modules,
    runMsP50: percentile(runs, 0.5),
    stop: async () => {
      await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
      tier.close();
    },
  };
}
