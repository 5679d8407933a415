import type { BudgetVerdict } from './budget.js';
import { type ModelsSection, perUseUsd } from './config.js';
import type { ToolUses } from './dialect.js';
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
 * answers may use them): what the call reserves for them (settleToolFees settles on the uses the
 * provider reports). A tool priced above 0 whose uses have no bound is refused (its cost could not
 * be reserved); while a cost budget is set, a tool with no price is refused, as an unpriced model is.
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
    micros += feeMicros(usd, uses * answers);
  }
  return { effect: 'allow', micros };
}

/** How one priced provider tool's fee was settled, as the call's receipt says (`toolFees`). */
export interface ToolFee {
  readonly type: string;
  /** The most uses the request allowed: what was reserved. */
  readonly maxUses: number;
  /** The uses charged. */
  readonly uses: number;
  /**
   * `reported`: the provider's own count (Anthropic's `usage.server_tool_use`); `maximum`: it
   * reported none for this tool, so the most the request allowed; `refused`: the provider refused
   * the call reporting no usage, so it ran nothing.
   */
  readonly basis: 'reported' | 'maximum' | 'refused';
}

export interface SettledFees {
  readonly micros: number;
  /** One line per provider tool priced above 0. */
  readonly fees: readonly ToolFee[];
}

/** The counter of `usage.server_tool_use` that counts a tool type's uses, if any does. */
function counterOf(type: string): keyof ToolUses | undefined {
  if (type.startsWith('web_search_')) return 'webSearch';
  if (type.startsWith('web_fetch_')) return 'webFetch';
  return undefined;
}

/**
 * The provider tools' fees of one answer, settled on what the provider reported: a tool whose uses
 * it counted is charged those (never past the request's bound, which the provider enforces), one it
 * did not count the most the request allowed, and nothing at all when the provider refused the call
 * without reporting usage (`reported` 'refused'). Two entries of one counter (two versions of web
 * search) share its count, each up to its own bound. Only tools priced above 0 with a bound are
 * here: toolFees refused the others before anything was sent.
 */
export function settleToolFees(
  price: ModelsSection['prices'][string] | undefined,
  tools: RequestedTools,
  answers: number,
  reported: ToolUses | 'refused' | undefined,
): SettledFees {
  if (price === undefined) return { micros: 0, fees: [] };
  const left: { -readonly [K in keyof ToolUses]-?: number | undefined } = {
    webSearch: reported === 'refused' ? undefined : reported?.webSearch,
    webFetch: reported === 'refused' ? undefined : reported?.webFetch,
  };
  const fees: ToolFee[] = [];
  let micros = 0;
  for (const type of tools.provider) {
    const usd = perUseUsd(price, type);
    const bound = tools.maxUses.get(type);
    if (usd === undefined || usd === 0 || bound === undefined) continue;
    const maxUses = bound * answers;
    const counter = counterOf(type);
    const counted = counter === undefined ? undefined : left[counter];
    let fee: ToolFee;
    if (reported === 'refused') fee = { type, maxUses, uses: 0, basis: 'refused' };
    else if (counter === undefined || counted === undefined)
      fee = { type, maxUses, uses: maxUses, basis: 'maximum' };
    else {
      const uses = Math.min(counted, maxUses);
      left[counter] = counted - uses;
      fee = { type, maxUses, uses, basis: 'reported' };
    }
    fees.push(fee);
    micros += feeMicros(usd, fee.uses);
  }
  return { micros, fees };
}

/** Micro-USD of `uses` uses at `usd` each: one rounding, the same for a reservation and its settlement. */
function feeMicros(usd: number, uses: number): number {
  return Math.ceil(usd * 1e6 * uses);
}
