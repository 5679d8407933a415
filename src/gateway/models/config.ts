import { z } from 'zod';
import { httpUrl, oneOf, positiveInt } from '../config/fields.js';

const ProviderName = z
  .string({ error: 'expected a provider name' })
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: 'provider names are 1-64 lowercase letters, digits and -' });

const ModelName = z
  .string({ error: 'expected a model name' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/, {
    error: 'model names are 1-128 letters, digits and . _ : / @ - (starting alphanumeric)',
  });

const nonNegative = () =>
  z.number({ error: 'expected a number >= 0' }).nonnegative({ error: 'expected a number >= 0' });

/** One upstream: an OpenAI-compatible API or Anthropic's Messages API. */
const ProviderSchema = z.strictObject({
  name: ProviderName,
  kind: oneOf(['openai', 'anthropic'] as const),
  /** OpenAI-compatible: up to and including /v1 (e.g. https://api.openai.com/v1); Anthropic: the host (https://api.anthropic.com). */
  base_url: httpUrl(),
  timeout_ms: positiveInt().default(60_000),
  /** Retries on this provider (429, 5xx, timeouts) before failing over to the next one. */
  max_retries: z.number({ error: 'expected an integer 0-5' }).int().min(0).max(5).default(2),
  /** Keep-alive connections in this provider's pool. */
  connections: positiveInt().default(64),
  /** Models this provider serves when a request names a model that is not an alias; empty: any. */
  models: z.array(ModelName, { error: 'expected a list of model names' }).default([]),
  /** Batches go through the provider's own batch API (OpenAI: files + /batches; Anthropic: /v1/messages/batches). */
  batch_api: z.boolean({ error: 'expected true or false' }).default(false),
});

const AliasSchema = z.strictObject({
  /** The model name sent upstream. */
  model: ModelName,
  /** Tried in order: the next one on 429, 5xx, a timeout or an open breaker. */
  providers: z.array(ProviderName, { error: 'expected a list of provider names' }).min(1, {
    error: 'an alias needs at least one provider',
  }),
});

const ProviderToolType = z
  .string({ error: 'expected a provider tool type' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
    error: 'provider tool types are 1-128 letters, digits and . _ - (starting alphanumeric)',
  });

const ServiceTier = z
  .string({ error: 'expected a service tier name' })
  .regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'service tier names are 1-64 lowercase letters, digits and _' });

/** Request values and answer names of the standard tier: priced by input_per_mtok and output_per_mtok themselves. */
const STANDARD_TIERS = ['default', 'standard', 'auto', 'standard_only'];

const PriceSchema = z.strictObject({
  /** USD per million input tokens. */
  input_per_mtok: nonNegative(),
  /** USD per million output tokens. */
  output_per_mtok: nonNegative(),
  /**
   * USD per use of a provider-side tool, by type (`web_search_20250305: 0.01`): reserved at the
   * most uses the request allows and charged so (docs/model-gateway.md, "Provider-side tools").
   */
  per_use_usd: z
    .record(ProviderToolType, nonNegative(), {
      error: 'expected a mapping of provider tool type to USD per use',
    })
    .default({}),
  /**
   * The token prices' multiplier for each service tier other than the standard one, by the name
   * the provider gives it (OpenAI `flex: 0.5`, `priority: 2`; Anthropic `priority`): reserved at the
   * dearest tier the request may be served at, settled at the tier the answer says served it; a
   * request pinning a tier not here is refused (docs/model-gateway.md, "Service tiers").
   */
  service_tiers: z
    .record(ServiceTier, nonNegative(), { error: 'expected a mapping of service tier to price multiplier' })
    .default({})
    .superRefine((tiers, ctx) => {
      for (const tier of Object.keys(tiers))
        if (STANDARD_TIERS.includes(tier))
          ctx.addIssue({
            code: 'custom',
            path: [tier],
            message: `"${tier}" is the standard tier, priced by input_per_mtok and output_per_mtok themselves`,
          });
    }),
});

const BudgetSchema = z.strictObject({
  /** LLM tokens (input + output) one agent may spend per hour, its children's spending included. */
  tokens_per_hour: positiveInt().optional(),
  tokens_per_day: positiveInt().optional(),
  /** USD per day from the price table; calls to unpriced models are refused while this is set. */
  cost_per_day_usd: nonNegative().optional(),
});

/**
 * `models`: the gateway's model leg (docs/model-gateway.md). Provider keys are
 * not here: they live in the credentials vault as credentials of the reserved
 * agent `oacp:models` for the tool `models/<provider>`.
 */
export const ModelsSectionSchema = z
  .strictObject({
    providers: z.array(ProviderSchema, { error: 'expected a list of providers' }).default([]),
    aliases: z
      .record(ModelName, AliasSchema, { error: 'expected a mapping of alias to {model, providers}' })
      .default({}),
    prices: z.record(ModelName, PriceSchema, { error: 'expected a mapping of model to prices' }).default({}),
    budgets: BudgetSchema.default({}),
    breaker: z
      .strictObject({
        /** Consecutive failures that open a provider's breaker. */
        failures: positiveInt().default(5),
        /** How long an open breaker refuses before letting one probe through. */
        cooldown_ms: positiveInt().default(30_000),
      })
      .default({ failures: 5, cooldown_ms: 30_000 }),
    /** Model calls in flight at once per batch. */
    batch_concurrency: positiveInt().default(8),
    /** How often a batch handed to a provider's batch API is polled. */
    batch_poll_ms: positiveInt().default(2_000),
    /** How long a batch request waits for a provider's batch to end before cancelling it. */
    batch_timeout_ms: positiveInt().default(600_000),
    /** Asynchronous batches one agent may have running at once (a 429 naming this field beyond). */
    batches_per_agent: positiveInt().default(8),
    /** Bytes of uploaded batch files one agent may keep (a 413 naming this field beyond). */
    file_bytes_per_agent: positiveInt().default(256 * 1024 * 1024),
    /** Days an ended batch (with its output file) and an uploaded file are kept before the hourly prune deletes them. */
    batch_retention_days: positiveInt().default(30),
    /**
     * When a call is answered relative to its receipt reaching disk: `durable` after the log's
     * fsync; `queued` once the receipt is written to the OS (its reservation durable before the
     * provider got the call), as the bridge's `--receipt-ack queued` (docs/model-gateway.md).
     */
    receipt_ack: z.enum(['durable', 'queued'], { error: 'expected durable or queued' }).default('durable'),
  })
  .superRefine((section, ctx) => {
    const names = section.providers.map((provider) => provider.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index)
        ctx.addIssue({
          code: 'custom',
          path: ['providers', index, 'name'],
          message: `duplicate provider ${name}`,
        });
    });
    for (const [alias, target] of Object.entries(section.aliases)) {
      target.providers.forEach((provider, index) => {
        if (!names.includes(provider))
          ctx.addIssue({
            code: 'custom',
            path: ['aliases', alias, 'providers', index],
            message: `no provider named ${provider} under models.providers`,
          });
      });
      const kinds = new Set(
        target.providers.map((provider) => section.providers.find((p) => p.name === provider)?.kind),
      );
      if (kinds.size > 1)
        ctx.addIssue({
          code: 'custom',
          path: ['aliases', alias, 'providers'],
          message:
            'an alias cannot mix openai and anthropic providers (requests are passed on in their own wire format)',
        });
    }
  });

export type ModelsSection = z.output<typeof ModelsSectionSchema>;
export type ProviderConfig = ModelsSection['providers'][number];

/**
 * The alias an agent's model name names, if the configuration has one. Looked up as an own key:
 * the names are the agent's, and `constructor` or `__proto__` read from a plain object are
 * Object.prototype's members, which made a call a 500 with no receipt.
 */
export function aliasFor(config: ModelsSection, name: string): ModelsSection['aliases'][string] | undefined {
  return Object.hasOwn(config.aliases, name) ? config.aliases[name] : undefined;
}

/** The configured price of a model, looked up as an own key (see aliasFor). */
export function priceFor(config: ModelsSection, name: string): ModelsSection['prices'][string] | undefined {
  return Object.hasOwn(config.prices, name) ? config.prices[name] : undefined;
}

/** USD per use of a provider tool in a model's price, looked up as an own key (see aliasFor). */
export function perUseUsd(price: ModelsSection['prices'][string], type: string): number | undefined {
  return Object.hasOwn(price.per_use_usd, type) ? price.per_use_usd[type] : undefined;
}

/** The price multiplier of a service tier in a model's price, looked up as an own key (see aliasFor). */
export function tierMultiplier(price: ModelsSection['prices'][string], tier: string): number | undefined {
  return Object.hasOwn(price.service_tiers, tier) ? price.service_tiers[tier] : undefined;
}
