import type { BudgetVerdict } from './budget.js';
import { type ModelsSection, perUseUsd } from './config.js';
import type { RequestedTools } from './request-tools.js';

/** What a call's provider tools cost at most, or why that cannot be said. */
export type ToolFees =
  | { readonly effect: 'allow'; readonly micros: number }
  | { readonly effect: 'deny'; readonly status: 400; readonly reason: string }
  | {
      readonly effect: 'deny';
      readonly status: 429;
      readonly verdict: Extract<BudgetVerdict, { effect: 'deny' }>;
    };

/**
 * The provider tools' fees in micro-USD, at the most uses the request allows (each of `answers`
 * answers may use them): charged with the tokens whenever the provider had the request, since the
 * gateway does not read the provider's counts of tool uses. A tool priced above 0 whose uses have
 * no bound is refused (its cost could not be reserved); while a cost budget is set, a tool with no
 * price is refused, as an unpriced model is.
 */
export function toolFees(
  price: ModelsSection['prices'][string] | undefined,
  model: string,
  tools: RequestedTools,
  answers: number,
  limitsCost: boolean,
): ToolFees {
  let micros = 0;
  for (const type of tools.provider) {
    const usd = price === undefined ? undefined : perUseUsd(price, type);
    if (usd === undefined) {
      if (!limitsCost) continue;
      return {
        effect: 'deny',
        status: 429,
        verdict: {
          effect: 'deny',
          quota: 'models.budgets.cost_per_day_usd',
          reason: `provider tool "${type}" has no price under models.prices."${model}".per_use_usd, and models.budgets.cost_per_day_usd is set`,
        },
      };
    }
    if (usd === 0) continue;
    const uses = tools.maxUses.get(type);
    if (uses === undefined)
      return {
        effect: 'deny',
        status: 400,
        reason: `provider tool "${type}" is priced per use (models.prices."${model}".per_use_usd) and the request sets no max_uses for it, so its cost has no bound`,
      };
    micros += Math.ceil(usd * 1e6 * uses * answers);
  }
  return { effect: 'allow', micros };
}
