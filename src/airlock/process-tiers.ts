import type { GvisorTierOptions } from './gvisor/tier.js';
import type { HardenedTierOptions } from './native/hardened.js';
import { HardenedTier } from './native/hardened.js';
import { LightTier } from './native/light.js';
import type { ProcessTier, TierName } from './sandbox.js';

export interface ProcessTierOptions {
  readonly hardened?: HardenedTierOptions;
  readonly gvisor?: GvisorTierOptions;
}

/**
 * A tier whose modules load at its first use, so a start in another tier
 * (`oacp mcp run`, hardened by default) does not load them: a module that
 * cannot load rejects availability() and start(), which the registry turns
 * into "unavailable" with the reason.
 */
function lazyTier(name: TierName, load: () => Promise<ProcessTier>): ProcessTier {
  let tier: Promise<ProcessTier> | undefined;
  const loaded = (): Promise<ProcessTier> => {
    tier ??= load();
    return tier;
  };
  return {
    name,
    availability: async () => (await loaded()).availability(),
    start: async (spec) => (await loaded()).start(spec),
    checkLimits: async (manifest) => (await loaded()).checkLimits?.(manifest),
  };
}

/** The native process tiers, weakest first, ready for `createTierRegistry` (add the standard tier beside them). */
export function processTiers(options: ProcessTierOptions = {}): ProcessTier[] {
  return [
    new LightTier(),
    new HardenedTier(options.hardened),
    lazyTier('gvisor', async () => new (await import('./gvisor/tier.js')).GvisorTier(options.gvisor)),
    lazyTier('tee', async () => new (await import('./tee/tier.js')).TeeTier()),
  ];
}
