import { GvisorTier } from '../airlock/gvisor/tier.js';
import { HardenedTier } from '../airlock/native/hardened.js';
import { LightTier } from '../airlock/native/light.js';
import type { ProcessTier, TierName } from '../airlock/sandbox.js';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';

/** Finds the process tier for a name; the CLI may pass the Airlock's registry instead. */
export type TierLookup = (name: TierName) => ProcessTier | undefined;

/** The process tiers this build has, used when no registry is handed in. */
export const builtInTiers: TierLookup = (name) => {
  switch (name) {
    case 'light':
      return new LightTier();
    case 'hardened':
      return new HardenedTier();
    case 'gvisor':
      return new GvisorTier();
    default:
      return undefined;
  }
};

/**
 * The tier asked for, or an error saying why not and what to do: an MCP
 * server is never started in a weaker tier than requested.
 */
export async function requireTier(name: TierName, lookup: TierLookup = builtInTiers): Promise<ProcessTier> {
  const tier = lookup(name);
  if (tier === undefined) {
    throw new OacpError<McpErrorCode>(
      'MCP_UPSTREAM_START',
      `tier ${name} cannot run an MCP server process here (process tiers: light, hardened, gvisor)`,
    );
  }
  const availability = await tier.availability();
  if (!availability.available) {
    throw new OacpError<McpErrorCode>(
      'MCP_UPSTREAM_START',
      `tier ${name} is not available: ${availability.reason}; ${availability.remedy} (or pick another with --tier)`,
    );
  }
  return tier;
}
