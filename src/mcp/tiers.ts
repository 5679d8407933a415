import { processTiers } from '../airlock/process-tiers.js';
import type { ProcessTier, TierName } from '../airlock/sandbox.js';
import { createTierRegistry, type TierRegistry } from '../airlock/tiers.js';

/** Where the bridge finds process tiers: the Airlock's registry (callers may pass their own). */
export type TierLookup = TierRegistry<ProcessTier>;

/**
 * The tier asked for, or the registry's TierUnavailableError saying why not
 * and how to enable it: an MCP server never starts in a weaker tier than asked.
 */
export function requireTier(name: TierName, lookup?: TierLookup): Promise<ProcessTier> {
  return (lookup ?? createTierRegistry<ProcessTier>(processTiers())).selectTier(name);
}
