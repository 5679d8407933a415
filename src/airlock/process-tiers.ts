import type { GvisorTierOptions } from './gvisor/tier.js';
import { GvisorTier } from './gvisor/tier.js';
import type { HardenedTierOptions } from './native/hardened.js';
import { HardenedTier } from './native/hardened.js';
import { LightTier } from './native/light.js';
import type { ProcessTier } from './sandbox.js';
import { TeeTier } from './tee/tier.js';

export interface ProcessTierOptions {
  readonly hardened?: HardenedTierOptions;
  readonly gvisor?: GvisorTierOptions;
}

/** The native process tiers, weakest first, ready for `createTierRegistry` (add the standard tier beside them). */
export function processTiers(options: ProcessTierOptions = {}): ProcessTier[] {
  return [new LightTier(), new HardenedTier(options.hardened), new GvisorTier(options.gvisor), new TeeTier()];
}
