import { z } from 'zod';
import { QuotasSchema } from '../../capability/manifest.js';
import type { GatewayQuotaOptions } from '../runtime/quotas.js';
import { positiveInt } from './fields.js';

/** A tool as the registry names it: a native tool, or `<server>.<tool>` for an MCP tool. */
const TOOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

/**
 * `quotas`: the agents' quota ceiling (a manifest's quota fields; every
 * top-level agent gets the smaller of its own and these) plus three
 * gateway-wide limits that no manifest can carry, because they are about
 * tools, API keys and spending rather than about one agent's sandbox.
 */
export const QuotasSectionSchema = QuotasSchema.extend({
  /** Calls per minute to one tool, across every agent (`tool.<name>.calls_per_min`). */
  tools: z
    .record(z.string(), positiveInt(), {
      error: (issue) =>
        issue.code === 'invalid_type' ? 'expected a mapping of tool name to calls per minute' : undefined,
    })
    .superRefine((tools, ctx) => {
      for (const name of Object.keys(tools)) {
        if (!TOOL_NAME.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'tool names are 1-128 letters, digits, . _ / - (starting alphanumeric)',
          });
        }
      }
    })
    .default({}),
  /** Calls per minute per API key, for keys created without a limit of their own. */
  api_key_calls_per_min: positiveInt().optional(),
  /** LLM tokens one agent may be charged in total (`agent.llm_tokens`); unlimited when absent. */
  llm_token_budget: positiveInt().optional(),
});

export type QuotasSection = z.output<typeof QuotasSectionSchema>;

/** The gateway-wide limits of the section, as GatewayQuotas takes them. */
export function gatewayQuotaOptionsFrom(section: QuotasSection): GatewayQuotaOptions {
  return {
    ...(Object.keys(section.tools).length === 0 ? {} : { tools: section.tools }),
    ...(section.api_key_calls_per_min === undefined
      ? {}
      : { apiKeyCallsPerMinute: section.api_key_calls_per_min }),
    ...(section.llm_token_budget === undefined ? {} : { llmTokenBudget: section.llm_token_budget }),
  };
}

/** The section without the gateway-wide limits: the agents' quota ceiling, shaped like a manifest's. */
export function agentQuotaDefaults(section: QuotasSection): z.output<typeof QuotasSchema> {
  const { tools: _tools, api_key_calls_per_min: _key, llm_token_budget: _budget, ...quotas } = section;
  return quotas;
}
