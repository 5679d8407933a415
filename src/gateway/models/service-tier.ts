import { type ModelsSection, tierMultiplier } from './config.js';

type Price = ModelsSection['prices'][string];

/** Tiers served at the standard price: OpenAI's `default`, Anthropic's `standard`. */
const STANDARD: ReadonlySet<string> = new Set(['default', 'standard']);
/** Requested values that keep the call at the standard tier: OpenAI's `default`, Anthropic's `standard_only`. */
const PINNED_STANDARD: ReadonlySet<string> = new Set(['default', 'standard_only']);

/** Longest tier name a receipt takes from a request or a provider. */
export const MAX_TIER_NAME = 64;

/** The price multiplier a call reserves at for the tier it asked for, or why it is refused. */
export type ReservedTier =
  | { readonly effect: 'allow'; readonly requested?: string; readonly multiplier: number }
  | { readonly effect: 'deny'; readonly reason: string };

/**
 * The multiplier of the dearest tier the request may be served at (`service_tier`): a tier it pins
 * (`flex`, `priority`, `scale`) at that tier's multiplier under `models.prices.<model>.service_tiers`,
 * refused when the table has none for it (its price is not known); `default` or `standard_only` at
 * 1; `auto` or none, which leave the tier to the provider (and to the account's settings), at the
 * dearest tier priced, 1 at least. A model with no price counts no cost: nothing to refuse.
 */
export function reservedTier(price: Price | undefined, model: string, requested: unknown): ReservedTier {
  if (requested === undefined || requested === null) return { effect: 'allow', multiplier: dearest(price) };
  if (typeof requested !== 'string' || requested.length === 0 || requested.length > MAX_TIER_NAME)
    return {
      effect: 'deny',
      reason: `\`service_tier\` must be a tier name of 1 to ${MAX_TIER_NAME} characters`,
    };
  if (PINNED_STANDARD.has(requested)) return { effect: 'allow', requested, multiplier: 1 };
  if (requested === 'auto') return { effect: 'allow', requested, multiplier: dearest(price) };
  if (price === undefined) return { effect: 'allow', requested, multiplier: 1 };
  const multiplier = tierMultiplier(price, requested);
  if (multiplier === undefined)
    return {
      effect: 'deny',
      reason: `service tier "${requested}" has no price multiplier under models.prices."${model}".service_tiers, so the call's cost is not known`,
    };
  return { effect: 'allow', requested, multiplier };
}

/**
 * The multiplier of the tier the provider says served the call: 1 for the standard tier, the
 * table's for a priced one; what was reserved when it names none, or one the table does not price
 * (the reservation covered the dearest tier the request allowed).
 */
export function servedMultiplier(
  price: Price | undefined,
  served: string | undefined,
  reserved: number,
): number {
  if (served === undefined || price === undefined) return reserved;
  if (STANDARD.has(served)) return 1;
  return tierMultiplier(price, served) ?? reserved;
}

/** The served tier a provider named, trusted only as a string of 1 to MAX_TIER_NAME characters. */
export function reportedTier(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TIER_NAME ? value : undefined;
}

function dearest(price: Price | undefined): number {
  return price === undefined ? 1 : Math.max(1, ...Object.values(price.service_tiers));
}
