import { OacpError } from '../core/errors.js';
import type { Availability, TierName } from './sandbox.js';

export type TierErrorCode = 'AIRLOCK_TIER_UNAVAILABLE' | 'AIRLOCK_TIER_UNKNOWN';

/** What every tier, process or code, offers the registry. */
export interface TierLike {
  readonly name: TierName;
  availability(): Promise<Availability>;
}

/** The tier asked for cannot run here; carries why and what to do, for the CLI to print. */
export class TierUnavailableError extends OacpError<TierErrorCode> {
  constructor(
    readonly tier: TierName,
    readonly reason: string,
    readonly remedy: string,
  ) {
    super('AIRLOCK_TIER_UNAVAILABLE', `tier ${tier} is not available: ${reason} (remedy: ${remedy})`);
    this.name = 'TierUnavailableError';
  }
}

export interface TierRegistry<T extends TierLike> {
  /** The tier by that name if it can run here; otherwise TierUnavailableError. Never a different tier. */
  selectTier(name: TierName): Promise<T>;
  /** Every registered tier with its availability, weakest first. */
  availabilities(): Promise<readonly { readonly tier: TierName; readonly availability: Availability }[]>;
  readonly names: readonly TierName[];
}

/**
 * Holds the tiers this process can offer. Selection is strict: asking for
 * `gvisor` on a host without runsc is an error naming the remedy, not a
 * quiet downgrade to `hardened`, because a receipt must state the isolation
 * that actually ran.
 */
export function createTierRegistry<T extends TierLike>(tiers: readonly T[]): TierRegistry<T> {
  const byName = new Map<TierName, T>();
  for (const tier of tiers) {
    if (byName.has(tier.name))
      throw new OacpError<TierErrorCode>('AIRLOCK_TIER_UNKNOWN', `tier ${tier.name} registered twice`);
    byName.set(tier.name, tier);
  }
  return {
    names: [...byName.keys()],
    async selectTier(name) {
      const tier = byName.get(name);
      if (tier === undefined) {
        throw new TierUnavailableError(
          name,
          `this build registers no ${name} tier (registered: ${[...byName.keys()].join(', ') || 'none'})`,
          'choose one of the registered tiers',
        );
      }
      const availability = await tier.availability().catch(
        (error: unknown): Availability => ({
          available: false,
          reason: `availability check failed: ${error instanceof Error ? error.message : String(error)}`,
          remedy: 'run `oacp doctor` for details',
        }),
      );
      if (!availability.available)
        throw new TierUnavailableError(name, availability.reason, availability.remedy);
      return tier;
    },
    async availabilities() {
      return Promise.all(
        [...byName.values()].map(async (tier) => ({
          tier: tier.name,
          availability: await tier.availability(),
        })),
      );
    },
  };
}
