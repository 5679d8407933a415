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

/**
 * A registry whose `name` tier has started its availability probe (a bwrap or runsc run, a child process)
 * now: `oacp mcp run` starts it while its bridge modules load, so the probe runs on another core instead
 * of after them. The answer is the same probe's, from this process, awaited by requireTier before the
 * server starts, exactly as when requireTier started it: starting it earlier keeps nothing across starts
 * (the hardened tier keeps only a pass under its own key and trust checks: probe-cache.ts). An unknown
 * name starts nothing here; requireTier reports it.
 */
export function probingTiers(name: string): TierLookup {
  const tiers = createTierRegistry<ProcessTier>(processTiers());
  if (tiers.names.includes(name as TierName)) tiers.selectTier(name as TierName).catch(() => undefined);
  return tiers;
}
