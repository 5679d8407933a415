import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import {
  ModelAttemptSchema,
  type ModelCallPredicateInput,
  ModelNotReportedSchema,
  ModelServiceTierSchema,
  ModelToolFeesSchema,
} from '../../attest/model-call.js';
import type { Manifest } from '../../capability/manifest.js';
import { decideModel, decideProviderTools } from '../../capability/name-policy.js';
import { jsonDepth, numberOutOfRange, parseFiniteJson, tooDeep } from '../../core/bounded-json.js';
import { sha256Hex } from '../../core/digest.js';
import { duplicateJsonKey, duplicateKeyReason } from '../../core/duplicate-key.js';
import { OacpError } from '../../core/errors.js';
import { canonicalize } from '../../core/jcs.js';
import { looseMemberProblem } from '../../core/twin-names.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Tracing } from '../observability/tracing.js';
import type { GatewayPolicy } from '../runtime/policy/gateway-policy.js';
import type { ReceiptLink, ReceiptRecorder } from '../runtime/receipt-recorder.js';
import { answerShape } from './answer-shape.js';
import { messages } from './anthropic-wire.js';
import type { SendRequest } from './batch-collector.js';
import type { BudgetVerdict, ModelBudget, Reservation } from './budget.js';
import { BudgetGauge } from './budget-gauge.js';
import { aliasFor, type ModelsSection, type ProviderConfig, priceFor } from './config.js';
import {
  type Dialect,
  MAX_ANSWER_DEPTH,
  MAX_MODEL_NAME,
  type ProviderKind,
  REQUEST_MEMBERS,
  SCHEMA_MAP_MEMBERS,
  type TokenUsage,
} from './dialect.js';
import {
  type Attempt,
  billedUsage,
  type Dispatched,
  dispatch,
  type Inspected,
  type ProviderSecrets,
} from './dispatch.js';
import { chatCompletions } from './openai-wire.js';
import { type ProviderStatus, providersStatus } from './provider-health.js';
import type { Providers } from './providers.js';
import { type RequestedTools, requestedTools, UnreadableTools } from './request-tools.js';
import { routeFor } from './router.js';
import { reservedTier, servedMultiplier } from './service-tier.js';
import { relayStream } from './stream-relay.js';
import { openAiToAnthropicStream } from './stream-to-anthropic.js';
import { anthropicToOpenAiStream } from './stream-to-openai.js';
import { AgentTokenCounts, estimateInputTokens } from './tokens.js';
import { settleToolFees, type ToolFee, toolFees } from './tool-fees.js';
import {
  isErrorBody,
  providerErrorMessage,
  translateAnswer,
  translateRequest,
  UntranslatableRequest,
} from './translate.js';
import { readBody, replayed, type UpstreamResponse } from './upstream.js';

/** The agent a model call is made for, as the HTTP layer authenticated it. */
export interface ModelCaller {
  readonly did: string;
  readonly name: string;
  readonly manifest: Manifest;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The agent, then its ancestors: whose budgets the call spends from. */
  readonly lineage: readonly string[];
  readonly signed: boolean;
}

export type ModelAnswer =
  | {
      readonly kind: 'json';
      readonly status: number;
      readonly body: unknown;
      /**
       * The exact JSON text to send, when the provider's own bytes are passed on as they came
       * (same wire format, nothing rewritten): `body` parsed from it, so nothing is serialised twice.
       */
      readonly raw?: string;
      readonly headers: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'stream';
      readonly headers: Readonly<Record<string, string>>;
      /** SSE text, ending only after the receipt is in the log. */
      readonly events: AsyncIterable<string>;
    };

export interface ModelGatewayParts {
  readonly config: ModelsSection;
  readonly providers: Providers;
  readonly budget: ModelBudget;
  readonly globalPolicy: GatewayPolicy;
  readonly receipts: ReceiptRecorder;
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing;
  readonly secretsFor: (provider: ProviderConfig) => Promise<ProviderSecrets>;
  /** Largest upstream answer read whole, and most bytes read of a stream (default 32 MiB). */
  readonly maxResponseBytes?: number;
  readonly now?: () => Date;
}

export interface CallOptions {
  readonly parent?: Span;
  readonly signal?: AbortSignal;
  /** Draws the call's reservation from elsewhere (a batch's pool) instead of the budgets. */
  readonly reserve?: (tokens: number, costMicros: number) => BudgetVerdict;
  /** Sends the checked, reserved call in place of a direct dispatch (a batch's collector); `direct` is the dispatch. */
  readonly send?: (request: SendRequest, direct: () => Promise<Dispatched>) => Promise<Dispatched>;
  /**
   * Takes the call's settlement in place of the budgets (a batch's pool, which settles the batch
   * whole once it ends): what the call is charged, in tokens and micro-USD.
   */
  readonly settle?: (reservation: Reservation, tokens: number, costMicros: number) => void;
  /** The batch item this call is: named in its receipt. */
  readonly batch?: { readonly id: string; readonly item: number };
}

/** Everything the receipt says, filled in as the call goes. */
interface CallFacts {
  readonly dialect: Dialect;
  readonly caller: ModelCaller;
  readonly started: Date;
  /** sha256 of the request's JCS form, computed once when first asked (see requestDigestOf). */
  readonly requestDigest: () => string;
  requested: string;
  stream: boolean;
  estimated: number;
  reserved: number;
  /** What the budgets were charged at settlement (absent: not known, as for an abandoned batch). */
  charged: number | undefined;
  /** Micro-USD the budgets were charged, when the model has a price: every receipt states it (docs/receipts.md). */
  chargedCost?: number | undefined;
  provider?: ProviderConfig;
  served?: string | undefined;
  attempts: readonly Attempt[];
  policy: ModelCallPredicateInput['policy'];
  batch?: { readonly id: string; readonly item: number } | undefined;
  /** The call's intent (its `interrupted` receipt, kept while the provider has it), settled by its receipt. */
  intent?: string;
}

/** How a call ended, as its receipt says. */
interface CallResult {
  readonly outcome: ModelCallPredicateInput['outcome'];
  readonly reason?: string;
  readonly usage?: TokenUsage;
  /** The counts of `usage` the provider did not report (docs/receipts.md `usage.notReported`). */
  readonly notReported?: ReadonlyArray<'inputTokens' | 'outputTokens'>;
  /** How each provider tool priced per use was settled. */
  readonly toolFees?: readonly ToolFee[];
  /** The service tier asked for and served, and the multiplier the cost was settled at. */
  readonly serviceTier?: {
    readonly requested?: string;
    readonly served?: string;
    readonly multiplier: number;
  };
  readonly cost?: number | undefined;
  readonly responseDigest?: string | undefined;
}

const NO_POLICY_DIGEST = sha256Hex('');
/** Most answers (OpenAI `n`) one request may ask for; each may be as long as the output cap. */
const MAX_CHOICES = 128;

/** The chat dialect of each provider format: where a translated request goes. */
const GENERATING: Record<ProviderKind, Dialect> = { openai: chatCompletions, anthropic: messages };

/**
 * The model leg of the gateway: one call is checked (shape, the manifest's
 * model allowlist and the global Cedar policies on `models/call` in one
 * decision, the per-request token cap, the budgets reserved), sent with
 * retries, failover and breakers, settled on the provider's usage, and
 * receipted — refusals and failures included. Bodies never reach the log,
 * only their JCS digests. docs/model-gateway.md.
 */
export class ModelGateway {
  readonly #now: () => Date;
  /** The budget gauge, read again after settlements (at most one reading per agent an interval). */
  readonly #gauge: BudgetGauge;
  /** Token counts of each agent's strings, so a chat's history is not tokenized every turn. */
  readonly #tokenCounts = new AgentTokenCounts();
  /** What the breaker gauge was last set to, by provider. */
  readonly #breakerOpen = new Map<string, 0 | 1>();

  constructor(private readonly parts: ModelGatewayParts) {
    this.#now = parts.now ?? (() => new Date());
    this.#gauge = new BudgetGauge(parts.budget, parts.metrics.llmBudgetRemaining);
  }

  get budget(): ModelBudget {
    return this.parts.budget;
  }

  /** The providers' pooled clients and breakers (a batch's collector sends through them). */
  get providers(): Providers {
    return this.parts.providers;
  }

  get secretsFor(): (provider: ProviderConfig) => Promise<ProviderSecrets> {
    return this.parts.secretsFor;
  }

  /** Each provider's breaker and last error class, with a probe that spends no tokens. */
  providersStatus(): Promise<ProviderStatus[]> {
    return providersStatus(this.parts.config.providers, this.parts.providers, this.parts.secretsFor);
  }

  /**
   * Micro-USD of `tokens` at the model's output price (the dearer side: an upper bound for
   * reservations), plus the request's provider tool fees as its call reserves them (a batch's pool
   * reserved without them, and refused every item offering a priced tool).
   */
  costEstimate(dialect: Dialect, body: Readonly<Record<string, unknown>>, tokens: number): number {
    const model = body.model;
    if (typeof model !== 'string') return 0;
    const config = this.parts.config;
    const route = aliasFor(config, model)?.model ?? model;
    const price = priceFor(config, route) ?? priceFor(config, model);
    if (price === undefined) return 0;
    let fees = 0;
    const tier = reservedTier(price, route, body.service_tier);
    try {
      const choices = dialect.read(body).choices;
      const answers = Number.isInteger(choices) && (choices as number) >= 1 ? (choices as number) : 1;
      const found = toolFees(price, route, requestedTools(dialect, body), answers, false);
      // A request whose fees cannot be said is refused by its own call; nothing to reserve for it.
      fees = found.effect === 'allow' ? found.micros : 0;
    } catch (error) {
      if (!(error instanceof UnreadableTools)) throw error;
    }
    // A tier the table has no price for is refused by the call itself; the standard price stands for it here.
    const multiplier = tier.effect === 'allow' ? tier.multiplier : 1;
    return Math.ceil(tokens * Math.max(price.input_per_mtok, price.output_per_mtok) * multiplier) + fees;
  }

  async call(
    dialect: Dialect,
    caller: ModelCaller,
    body: unknown,
    options: CallOptions = {},
  ): Promise<ModelAnswer> {
    const { parent, signal } = options;
    // Nothing is checked, reserved or sent while the log could not take this call's receipt.
    try {
      this.parts.receipts.reserve();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        kind: 'json',
        status: 503,
        body: dialect.error(503, 'receipt_unavailable', reason),
        headers: {},
      };
    }
    const started = this.#now();
    const facts = newFacts(dialect, caller, started, requestDigestOf(body));
    facts.batch = options.batch;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return this.#refuse(facts, 400, 'invalid_request', 'the request body must be a JSON object');
    }
    const record = body as Record<string, unknown>;
    // Before anything is read: a provider matching names loosely (Go's encoding/json folds case and
    // keeps the last) would serve `Model`, or read `MAX_TOKENS`, past what was routed and clamped.
    // A tool schema's `properties` keys (`ID` and `id`) are map keys upstream, not twins: SCHEMA_MAP_MEMBERS.
    const loose = looseMemberProblem(record, REQUEST_MEMBERS, 'the request body', true, SCHEMA_MAP_MEMBERS);
    if (loose !== undefined) return this.#refuse(facts, 400, 'invalid_request', loose);
    const read = dialect.read(record);
    facts.stream = read.stream;
    // Streaming is decided on `stream === true` (policy context, the cut at the budget, the receipt);
    // any other value would go upstream as it came, where a lenient provider may read it as true.
    if (record.stream !== undefined && record.stream !== null && typeof record.stream !== 'boolean') {
      return this.#refuse(facts, 400, 'invalid_request', '`stream` must be true or false');
    }
    if (typeof read.model !== 'string' || read.model.length === 0 || read.model.length > MAX_MODEL_NAME) {
      return this.#refuse(facts, 400, 'invalid_request', '`model` must be a non-empty string');
    }
    facts.requested = read.model;
    const requestedMax = read.maxTokens;
    if (requestedMax !== undefined && (!Number.isInteger(requestedMax) || (requestedMax as number) <= 0)) {
      return this.#refuse(facts, 400, 'invalid_request', 'the output token cap must be a positive integer');
    }
    // `n` answers of up to the cap each: every reservation and clamp below counts all of them.
    const choices = read.choices ?? 1;
    if (!Number.isInteger(choices) || (choices as number) < 1 || (choices as number) > MAX_CHOICES) {
      return this.#refuse(
        facts,
        400,
        'invalid_request',
        `\`n\` must be a whole number from 1 to ${MAX_CHOICES}`,
      );
    }
    const answers = choices as number;
    if (dialect.endpoint === 'messages' && requestedMax === undefined) {
      return this.#refuse(facts, 400, 'invalid_request', '`max_tokens` is required by the Messages API');
    }
    const found = routeFor(this.parts.config, dialect.kind, read.model);
    // Only chat is carried across wire formats (there are no Anthropic embeddings).
    const route = found?.kind === dialect.kind || dialect.endpoint !== 'embeddings' ? found : undefined;
    if (route === undefined) {
      return this.#refuse(
        facts,
        404,
        'model_not_found',
        `no ${dialect.kind} provider serves model "${read.model}" (see models.providers and models.aliases in oacp.yaml)`,
      );
    }
    facts.estimated = estimateInputTokens(record, this.#tokenCounts.for(caller.did));
    // An alias served in the other wire format: the request is translated (its answer or stream too).
    const upstream = route.kind === dialect.kind ? dialect : GENERATING[route.kind];
    let outgoing: Readonly<Record<string, unknown>> = record;
    if (upstream !== dialect) {
      try {
        outgoing = translateRequest(route.kind, record);
      } catch (error) {
        if (!(error instanceof UntranslatableRequest)) throw error;
        return this.#refuse(facts, 400, 'invalid_request', `model "${read.model}": ${error.message}`);
      }
    }

    // The tools it offers, read from the request as the agent sent it (a translated one carries functions only).
    let tools: RequestedTools;
    try {
      tools = requestedTools(dialect, record);
    } catch (error) {
      if (!(error instanceof UnreadableTools)) throw error;
      return this.#refuse(facts, 400, 'invalid_request', error.message);
    }

    // One decision: the manifest's allowlist and provider-tool grant, then the global policies.
    const grant = caller.manifest.capabilities.models;
    const modelDecision = decideModel(grant, read.model);
    const capability =
      modelDecision.effect === 'deny' ? modelDecision : decideProviderTools(grant, tools.provider);
    const global = this.parts.globalPolicy.decide({
      action: 'models/call',
      principal: {
        id: caller.did,
        attributes: {
          ...caller.attributes,
          name: caller.name,
          tier: 'standard',
          attestation_level: caller.signed ? 2 : 1,
        },
      },
      resource: { id: read.model, attributes: { provider: route.providers[0]?.name ?? '' } },
      context: {
        model: read.model,
        provider: route.providers[0]?.name ?? '',
        estimated_tokens: facts.estimated,
        stream: read.stream,
        tools: [...tools.functions, ...tools.provider],
        function_tools: [...tools.functions],
        provider_tools: [...tools.provider],
      },
    });
    if (capability.effect === 'deny') {
      facts.policy = {
        effect: 'deny',
        reason: capability.reason,
        policyId: capability.policyId ?? 'capability.models',
        policyDigest: global.policyDigest,
      };
      const code =
        capability.policyId === 'capability.models.provider_tools' ? 'provider_tool_denied' : 'model_denied';
      return this.#refuse(facts, 403, code, capability.reason);
    }
    if (global.effect === 'deny') {
      facts.policy = {
        effect: 'deny',
        reason: `global policy: ${global.reason}`,
        ...(global.policyIds.length > 0 ? { policyIds: [...global.policyIds] } : {}),
        policyDigest: global.policyDigest,
      };
      return this.#refuse(facts, 403, 'model_denied', `global policy: ${global.reason}`);
    }
    facts.policy = {
      effect: 'allow',
      reason: `${modelDecision.reason}; ${capability === modelDecision ? '' : `${capability.reason}; `}global policy: ${global.reason}`,
      ...(global.policyIds.length > 0 ? { policyIds: [...global.policyIds] } : {}),
      policyDigest: global.policyDigest,
    };

    // Budgets: the per-request cap, then the windows, reserved before anything is sent.
    const perRequest = caller.manifest.quotas.llm_tokens_per_request;
    if (facts.estimated >= perRequest) {
      return this.#quota(facts, {
        effect: 'deny',
        quota: 'agent.llm_tokens_per_request',
        reason: `quota llm_tokens_per_request exceeded: the input alone is ${facts.estimated} tokens, limit ${perRequest}`,
      });
    }
    const price = priceFor(this.parts.config, route.model) ?? priceFor(this.parts.config, read.model);
    // Nothing is charged until a settlement says otherwise: a refusal from here on costs 0.
    facts.chargedCost = price === undefined ? undefined : 0;
    if (price === undefined && this.parts.budget.limitsCost) {
      return this.#quota(facts, {
        effect: 'deny',
        quota: 'models.budgets.cost_per_day_usd',
        reason: `model "${route.model}" has no price under models.prices, and models.budgets.cost_per_day_usd is set`,
      });
    }
    const fees = toolFees(price, route.model, tools, answers, this.parts.budget.limitsCost);
    if (fees.effect === 'deny') {
      return fees.status === 429
        ? this.#quota(facts, fees.verdict)
        : this.#refuse(facts, 400, 'invalid_request', fees.reason);
    }
    // The service tier changes the token prices: reserved at the dearest tier the request may get.
    const tier = reservedTier(price, route.model, record.service_tier);
    if (tier.effect === 'deny') return this.#refuse(facts, 400, 'invalid_request', tier.reason);
    const tokenCost = (usage: TokenUsage, multiplier = tier.multiplier) =>
      price === undefined
        ? 0
        : Math.ceil(
            (usage.inputTokens * price.input_per_mtok + usage.outputTokens * price.output_per_mtok) *
              multiplier,
          );
    /** The receipt's `serviceTier`, at the tier `served` (undefined: not named) settled at `multiplier`. */
    const tierFacts = (served: string | undefined, multiplier: number) =>
      price === undefined || (tier.requested === undefined && served === undefined && multiplier === 1)
        ? {}
        : {
            serviceTier: {
              ...(tier.requested === undefined ? {} : { requested: tier.requested }),
              ...(served === undefined ? {} : { served }),
              multiplier,
            },
          };
    // Reserved with the provider tools' fees at the most uses the request allows; an answer settles
    // them on the uses it reports (settleToolFees), a call the provider may have run unanswered at that most.
    const costOf = (usage: TokenUsage) => tokenCost(usage) + fees.micros;
    const reserveFor = (maxTokens: number | undefined) => {
      const tokens = facts.estimated + (maxTokens ?? 0) * answers;
      const cost = costOf({ inputTokens: facts.estimated, outputTokens: (maxTokens ?? 0) * answers });
      return options.reserve === undefined
        ? this.parts.budget.reserve(caller.lineage, tokens, cost)
        : Promise.resolve(options.reserve(tokens, cost));
    };
    // The cap clamped by the per-request limit alone, reserved at once: when the windows have room
    // for it (the usual case) their remaining could not have clamped it further, so reading them first
    // would only add a round to the store.
    const capOf = (remaining: number) => {
      const cap = Math.floor(Math.min(perRequest - facts.estimated, remaining - facts.estimated) / answers);
      return Math.min(cap, (requestedMax as number | undefined) ?? cap);
    };
    let maxTokens = dialect.generates ? capOf(Number.POSITIVE_INFINITY) : undefined;
    if (maxTokens !== undefined && maxTokens <= 0) {
      return this.#quota(facts, {
        effect: 'deny',
        quota: 'agent.llm_tokens_per_request',
        reason: `quota llm_tokens_per_request exceeded: ${answers} answers (n) of one token or more do not fit beside the input's ${facts.estimated} tokens, limit ${perRequest}`,
      });
    }
    const reserving = reserveFor(maxTokens).catch((error: unknown) => storeDown(error));
    // The digest is needed whatever the verdict: made in the next turn of the event loop, after the
    // store's group commit has begun this reservation's transaction, it runs while its fdatasync does.
    await new Promise<void>((resolve) => setImmediate(resolve));
    facts.requestDigest();
    let verdict = await reserving;
    if (verdict.effect === 'deny' && options.reserve === undefined && verdict.quota !== 'models.budgets') {
      // Something is short: clamp the cap to what the windows have left, then try once more.
      let remaining: number;
      try {
        remaining = await this.parts.budget.remainingTokens(caller.lineage);
      } catch (error) {
        return this.#quota(facts, storeDown(error));
      }
      if (dialect.generates) {
        maxTokens = capOf(remaining);
        if (maxTokens <= 0) return this.#quota(facts, await this.#noRoomLeft(caller, facts, options));
        verdict = await reserveFor(maxTokens).catch((error: unknown) => storeDown(error));
      }
    }
    if (verdict.effect === 'deny') return this.#quota(facts, verdict);
    const reserveTokens = facts.estimated + (maxTokens ?? 0) * answers;
    const estimatedCost = costOf({ inputTokens: facts.estimated, outputTokens: (maxTokens ?? 0) * answers });
    facts.reserved = reserveTokens;
    const reservation = verdict.reservation;

    const span = this.parts.tracing.start(
      `${dialect.endpoint === 'embeddings' ? 'embeddings' : 'chat'} ${route.model}`,
      parent,
      {
        'gen_ai.operation.name': dialect.endpoint === 'embeddings' ? 'embeddings' : 'chat',
        'gen_ai.system': dialect.kind,
        'gen_ai.request.model': route.model,
        ...(maxTokens === undefined ? {} : { 'gen_ai.request.max_tokens': maxTokens }),
        'oacp.agent': caller.name,
      },
    );
    const upstreamBody = JSON.stringify(upstream.prepare(outgoing, route.model, maxTokens));
    const headers: Record<string, string> = {};
    if (upstream.kind === 'anthropic') headers['anthropic-version'] = '2023-06-01';
    const maxResponseBytes = this.parts.maxResponseBytes ?? 32 * 1024 * 1024;
    /**
     * The 2xx answer `inspect` read, parsed and judged to be an answer (within the depth limit, every
     * number finite, no error body), as it handed it on: taken as it is below, not read twice.
     */
    let judged:
      | { readonly response: UpstreamResponse; readonly text: string; readonly value: unknown }
      | undefined;
    /**
     * What the tries failed over though billed cost: each its tokens at the tier its body says served
     * it (the reserved one when it names none, as for an answer) and its tool fees on the uses it reported.
     */
    let billedCost = 0;
    // A whole answer is judged before it is taken: a provider's error in a 200 fails over.
    const inspect = async (response: UpstreamResponse): Promise<Inspected> => {
      let bytes: Buffer;
      try {
        bytes = await readBody(response, maxResponseBytes);
      } catch (error) {
        return { kind: 'answer', response: replayed(response, error as Error) };
      }
      const shape = answerShape(upstream.endpoint, bytes);
      if (shape.kind === 'answer') {
        const accepted = replayed(response, bytes);
        judged = { response: accepted, text: shape.text, value: shape.value };
        return { kind: 'answer', response: accepted };
      }
      if (shape.kind !== 'error') return { kind: 'answer', response: replayed(response, bytes) };
      // Failed over, but billed where the provider says so: the budgets are charged what it reported.
      const { usage, toolUses, tier: triedTier } = upstream.answer(shape.body);
      let billed: { inputTokens: number; outputTokens: number } | undefined;
      if (usage !== undefined) {
        const multiplier = servedMultiplier(price, triedTier, tier.multiplier);
        billedCost += tokenCost(usage, multiplier) + settleToolFees(price, tools, answers, toolUses).micros;
        // The tier it was billed at, on its own entry: failed-over tries need not share the answer's.
        billed = {
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          ...tierFacts(triedTier, multiplier),
        };
      }
      return {
        kind: 'error',
        reason: shape.reason,
        ...(shape.message === undefined ? {} : { message: shape.message }),
        ...(billed === undefined ? {} : { billed }),
      };
    };
    const direct = () =>
      dispatch({
        providers: route.providers,
        pool: this.parts.providers,
        path: upstream.path,
        body: upstreamBody,
        headers,
        secretsFor: this.parts.secretsFor,
        ...(read.stream ? {} : { inspect }),
        ...(signal === undefined ? {} : { signal }),
      });
    // The provider is about to get the call: its receipt, should this process be killed before it
    // can write the real one, is kept first (IntentJournal); where it cannot be, nothing is sent.
    // A batch item needs none: its batch's store records it in flight, and the batch's resume at the
    // next start writes its one receipt (batch-resume.ts).
    try {
      if (facts.batch === undefined) {
        const intent = randomUUID();
        this.parts.receipts.intendModelCall(
          intent,
          this.#predicate(facts, { outcome: 'interrupted', reason: INTERRUPTED }),
        );
        facts.intent = intent;
      }
    } catch (error) {
      await this.#charge(options, reservation, 0, 0);
      facts.chargedCost = price === undefined ? undefined : 0;
      span.setAttribute('error.type', 'receipt_unavailable');
      span.end();
      return this.#failed(
        facts,
        503,
        'receipt_unavailable',
        `the call's receipt could not be secured against a crash, so nothing was sent: ${(error as Error).message}`,
      );
    }
    const sent = await (options.send === undefined
      ? direct()
      : options.send({ providers: route.providers, path: upstream.path, body: upstreamBody }, direct));
    this.#breakerGauges();
    facts.attempts = sent.attempts;
    // Tries failed over after the provider billed them (a 2xx judged unusable): charged as reported.
    const billed = billedUsage(sent.attempts);
    const billedTokens = billed.inputTokens + billed.outputTokens;
    if (!sent.ok) {
      const tokens = (sent.spent === true ? reserveTokens : 0) + billedTokens;
      const cost = (sent.spent === true ? estimatedCost : 0) + billedCost;
      facts.charged = tokens;
      facts.chargedCost = price === undefined ? undefined : cost;
      await this.#charge(options, reservation, tokens, cost);
      span.setAttribute('error.type', 'provider_failed');
      span.end();
      const spentFees = sent.spent === true ? settleToolFees(price, tools, answers, undefined).fees : [];
      return this.#failed(facts, sent.status === 429 ? 429 : 502, 'provider_failed', sent.reason, spentFees);
    }
    facts.provider = sent.provider;
    span.setAttribute('oacp.provider', sent.provider.name);
    if (read.stream && sent.response.status === 200) {
      return {
        kind: 'stream',
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
        events: relayStream({
          dialect: upstream,
          ...(upstream === dialect
            ? {}
            : {
                client:
                  dialect.kind === 'openai'
                    ? anthropicToOpenAiStream(Math.floor(this.#now().getTime() / 1000))
                    : openAiToAnthropicStream(facts.estimated),
              }),
          response: sent.response,
          usageChunk: asksUsage(record),
          redact: async (text) => (await this.parts.secretsFor(sent.provider)).redact(text),
          outputCap: maxTokens === undefined ? Number.MAX_SAFE_INTEGER : maxTokens * answers,
          maxBytes: maxResponseBytes,
          model: route.model,
          ...(signal === undefined ? {} : { signal }),
          finish: async (outcome) => {
            facts.served = outcome.served ?? facts.served;
            // What the provider did not report is estimated (the input by the gateway's pre-flight
            // count, the output by the text it relayed), what it did report kept: an output count
            // without its input count (message_start missing) was dropped for the gateway's own.
            const usage = outcome.usage ?? {
              inputTokens: facts.estimated,
              outputTokens: outcome.reportedOutput ?? outcome.countedOutput,
            };
            const notReported =
              outcome.usage !== undefined
                ? undefined
                : outcome.reportedOutput === undefined
                  ? (['inputTokens', 'outputTokens'] as const)
                  : (['inputTokens'] as const);
            span.setAttributes({
              'gen_ai.usage.input_tokens': usage.inputTokens,
              'gen_ai.usage.output_tokens': usage.outputTokens,
              ...(facts.served === undefined ? {} : { 'gen_ai.response.model': facts.served }),
            });
            span.end();
            facts.charged = usage.inputTokens + usage.outputTokens;
            const settled = settleToolFees(
              price,
              tools,
              answers,
              outcome.usage === undefined && outcome.reportedOutput === undefined
                ? undefined
                : outcome.toolUses,
            );
            const multiplier = servedMultiplier(price, outcome.tier, tier.multiplier);
            const cost = tokenCost(usage, multiplier) + settled.micros;
            // The last event waits for the receipt only: the settlement gives back what was not used,
            // and a crash before it leaves the whole reservation spent (never a credit without a record).
            this.#settle(reservation, usage, cost, facts, caller, options);
            await this.#receipt(facts, {
              outcome: outcome.kind,
              usage,
              ...(notReported === undefined ? {} : { notReported }),
              ...(settled.fees.length === 0 ? {} : { toolFees: settled.fees }),
              ...tierFacts(outcome.tier, multiplier),
              cost: price === undefined ? undefined : cost,
              responseDigest: outcome.digest,
              ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
            });
          },
        }),
      };
    }
    let answer: unknown;
    /** The provider's JSON text, passed on as it came when nothing rewrites it. */
    let raw: string | undefined;
    /** The provider's status, or 502 for a 200 whose body is an error (some proxies answer so). */
    let status = sent.response.status;
    try {
      if (judged?.response === sent.response && status < 300) {
        answer = judged.value;
        raw = judged.text;
      } else {
        ({ answer, raw, status } = await this.#readAnswer(sent, status, maxResponseBytes));
      }
      // The agent gets these bytes as they came, and the receipt digests JSON.parse's reading (the
      // last of a repeated member): to a client whose parser keeps the first, or refuses, the receipt
      // would vouch for an answer it never read.
      const repeated = duplicateJsonKey(raw);
      if (repeated !== undefined) throw new Error(duplicateKeyReason('the answer', repeated));
    } catch (error) {
      facts.charged = reserveTokens + billedTokens;
      facts.chargedCost = price === undefined ? undefined : estimatedCost + billedCost;
      await this.#charge(options, reservation, facts.charged, estimatedCost + billedCost);
      span.end();
      return this.#failed(
        facts,
        502,
        'provider_failed',
        `provider ${sent.provider.name} sent an unreadable answer: ${(error as Error).message.slice(0, 200)}`,
        settleToolFees(price, tools, answers, undefined).fees,
      );
    }
    const reported = upstream.answer(answer);
    facts.served = reported.served;
    if (upstream !== dialect) {
      raw = undefined;
      answer =
        status < 300
          ? translateAnswer(dialect.kind, answer, this.#now)
          : dialect.error(status, 'provider_error', providerErrorMessage(answer));
    }
    // A provider that answered reporting no usage is charged the whole reservation; one that refused
    // the call (3xx-5xx) reporting none ran nothing (OpenAI and Anthropic bill no refused request):
    // settled at 0, tools included, the receipt saying the provider reported no usage.
    const refusedUnreported = reported.usage === undefined && status >= 300;
    const usage =
      reported.usage ??
      (refusedUnreported
        ? { inputTokens: 0, outputTokens: 0 }
        : { inputTokens: facts.estimated, outputTokens: (maxTokens ?? 0) * answers });
    const settled = settleToolFees(
      price,
      tools,
      answers,
      refusedUnreported ? 'refused' : reported.usage === undefined ? undefined : reported.toolUses,
    );
    span.setAttributes({
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
      ...(facts.served === undefined ? {} : { 'gen_ai.response.model': facts.served }),
    });
    span.end();
    const ok = status >= 200 && status < 300;
    const charged = withBilled(usage, billed);
    facts.charged = charged.inputTokens + charged.outputTokens;
    // The answer waits for its receipt, not for the settlement: a crash before that leaves the whole
    // reservation spent (never a credit without a record).
    // Settled at the tier the answer says served it; failed-over billed tries each at their own (inspect).
    const multiplier = servedMultiplier(price, reported.tier, tier.multiplier);
    const cost = tokenCost(usage, multiplier) + settled.micros + billedCost;
    this.#settle(reservation, charged, cost, facts, caller, options);
    const link = await this.#receipt(facts, {
      outcome: ok ? 'ok' : 'failed',
      usage,
      ...(reported.usage === undefined ? { notReported: ['inputTokens', 'outputTokens'] as const } : {}),
      ...(settled.fees.length === 0 ? {} : { toolFees: settled.fees }),
      ...tierFacts(reported.tier, multiplier),
      cost: price === undefined ? undefined : cost,
      responseDigest: sha256Hex(canonicalize(answer)),
      ...(ok
        ? {}
        : {
            reason:
              status === sent.response.status
                ? `provider ${sent.provider.name} refused the request with HTTP ${status}`
                : `provider ${sent.provider.name} answered HTTP ${sent.response.status} with an error body`,
          }),
    });
    if (link.fallback !== undefined) {
      return {
        kind: 'json',
        status: 502,
        body: dialect.error(502, 'provider_failed', link.fallback),
        headers: receiptHeaders(link),
      };
    }
    return {
      kind: 'json',
      status,
      body: answer,
      ...(raw === undefined ? {} : { raw }),
      headers: receiptHeaders(link),
    };
  }

  /**
   * Reads a whole answer `inspect` did not already judge (a status of 300 or more, or one sent by a
   * batch's collector): redacted of the provider's key where it may quote it, held to the depth
   * limit, and a 2xx carrying an error body is the provider's failure (502). Throws when unreadable.
   */
  async #readAnswer(
    sent: Extract<Dispatched, { ok: true }>,
    received: number,
    maxResponseBytes: number,
  ): Promise<{ answer: unknown; raw: string; status: number }> {
    let status = received;
    const bytes = await readBody(sent.response, maxResponseBytes);
    let text = bytes.toString('utf8');
    // A provider's refusal may quote the key it was sent: it never reaches the agent.
    const redact = async (words: string) => (await this.parts.secretsFor(sent.provider)).redact(words);
    if (status >= 300) text = await redact(text);
    // Nothing that recurses (translation, the JSON answer, the digest) ever sees a deeper one.
    if (jsonDepth(text) > MAX_ANSWER_DEPTH) throw new Error(tooDeep('the answer', MAX_ANSWER_DEPTH));
    let parsed = parseFiniteJson(text);
    if (status < 300 && isErrorBody(parsed.value)) {
      status = 502;
      text = await redact(text);
      parsed = parseFiniteJson(text);
    }
    if (status >= 300) {
      // JSON spells a key many ways (each character a \u escape) that masking the text misses: the
      // answer is masked as the agent's parser reads it too, and then passed on in that spelling.
      const spelled = JSON.stringify(parsed.value);
      const masked = await redact(spelled);
      if (masked !== spelled) {
        text = masked;
        parsed = parseFiniteJson(masked);
      }
    }
    // No digest (so no receipt) could hold such a number, nor would the agent get it back as sent.
    if (parsed.outOfRange !== undefined) throw new Error(numberOutOfRange('the answer', parsed.outOfRange));
    return { answer: parsed.value, raw: text, status };
  }

  /** A body that is not JSON: refused (400) with a receipt whose requestDigest is the sha256 of the raw bytes. */
  async unreadable(dialect: Dialect, caller: ModelCaller, rawDigest: string): Promise<ModelAnswer> {
    const facts = newFacts(dialect, caller, this.#now(), rawDigest);
    return this.#refuse(facts, 400, 'invalid_request', 'the request body is not JSON');
  }

  /**
   * A call that will never be answered (a batch the gateway stopped running):
   * receipted as failed with the reason; `digest` names what was asked.
   */
  async abandoned(
    dialect: Dialect,
    caller: ModelCaller,
    digest: string,
    reason: string,
    item?: { readonly batch: { readonly id: string; readonly item: number }; readonly charged: number },
  ): Promise<ModelAnswer> {
    const facts = newFacts(dialect, caller, this.#now(), digest);
    // A whole batch: what its items were charged is in their own receipts; one item: what it kept.
    facts.charged = item?.charged;
    facts.reserved = item?.charged ?? 0;
    facts.batch = item?.batch;
    // Its items passed their checks when the batch ran; none is answered now.
    facts.policy = {
      effect: 'allow',
      reason: 'checked when the batch ran',
      policyDigest: facts.policy.policyDigest,
    };
    return this.#failed(facts, 502, 'batch_abandoned', reason);
  }

  /** The refusal for a call with no output tokens left: the budget's own words where it gives them. */
  async #noRoomLeft(caller: ModelCaller, facts: CallFacts, options: CallOptions): Promise<BudgetVerdict> {
    const probe =
      options.reserve === undefined
        ? await this.parts.budget.reserve(caller.lineage, facts.estimated + 1, 0)
        : options.reserve(facts.estimated + 1, 0);
    if (probe.effect === 'deny') return probe;
    if (options.reserve === undefined) await this.parts.budget.settle(probe.reservation, 0, 0);
    return {
      effect: 'deny',
      quota: 'agent.llm_tokens_per_request',
      reason: `no output tokens left: the input is ${facts.estimated} tokens and the limits leave none for an answer`,
    };
  }

  /**
   * Settles in the background (ModelBudget.settled() waits for it) and counts the tokens. A
   * settlement that fails leaves the reservation spent: the safe side.
   */
  #settle(
    reservation: Reservation,
    usage: TokenUsage,
    cost: number,
    facts: CallFacts,
    caller: ModelCaller,
    options: CallOptions,
  ): void {
    const model = facts.served ?? facts.requested;
    this.parts.metrics.llmTokens.inc({ agent: caller.name, model, kind: 'input' }, usage.inputTokens);
    this.parts.metrics.llmTokens.inc({ agent: caller.name, model, kind: 'output' }, usage.outputTokens);
    this.parts.metrics.quotaConsumed.inc(
      { resource: 'llm_tokens', agent: caller.name },
      usage.inputTokens + usage.outputTokens,
    );
    if (options.settle !== undefined) {
      options.settle(reservation, usage.inputTokens + usage.outputTokens, cost);
      return;
    }
    this.parts.budget
      .settleLater(reservation, usage.inputTokens + usage.outputTokens, cost)
      .then(() => this.#gauge.settled(caller))
      .catch(() => undefined);
  }

  /** A call's settlement, to its batch when it is an item of one; a failed settlement leaves it spent. */
  async #charge(options: CallOptions, reservation: Reservation, tokens: number, costMicros: number) {
    if (options.settle !== undefined) return options.settle(reservation, tokens, costMicros);
    await this.parts.budget.settle(reservation, tokens, costMicros).catch(() => undefined);
  }

  #breakerGauges(): void {
    for (const provider of this.parts.providers.health()) {
      const open = provider.breaker === 'open' ? 1 : 0;
      // Set on a change only: after every call the gauge's labels were hashed for an unchanged value.
      if (this.#breakerOpen.get(provider.name) === open) continue;
      this.#breakerOpen.set(provider.name, open);
      this.parts.metrics.llmBreakerOpen.set({ provider: provider.name }, open);
    }
  }

  async #refuse(facts: CallFacts, status: number, code: string, reason: string): Promise<ModelAnswer> {
    if (facts.policy.effect === 'allow' || facts.policy.reason === 'not checked') {
      facts.policy = { effect: 'deny', reason, policyDigest: facts.policy.policyDigest };
    }
    this.parts.metrics.security('info', 'model_denied');
    const link = await this.#receipt(facts, { outcome: 'denied', reason });
    return {
      kind: 'json',
      status,
      body: facts.dialect.error(status, code, reason),
      headers: receiptHeaders(link),
    };
  }

  async #quota(facts: CallFacts, verdict: BudgetVerdict): Promise<ModelAnswer> {
    if (verdict.effect === 'allow') throw new Error('a quota refusal needs a deny verdict');
    this.parts.metrics.security('info', 'quota_exceeded');
    const link = await this.#receipt(facts, { outcome: 'quota', reason: verdict.reason });
    return {
      kind: 'json',
      status: 429,
      body: facts.dialect.error(429, 'quota_exceeded', verdict.reason),
      headers: {
        ...receiptHeaders(link),
        'oacp-quota': verdict.quota,
        ...(verdict.retryAfterSeconds === undefined
          ? {}
          : { 'retry-after': String(verdict.retryAfterSeconds) }),
      },
    };
  }

  async #failed(
    facts: CallFacts,
    status: number,
    code: string,
    reason: string,
    toolFees: readonly ToolFee[] = [],
  ): Promise<ModelAnswer> {
    const link = await this.#receipt(facts, {
      outcome: 'failed',
      reason,
      ...(toolFees.length === 0 ? {} : { toolFees }),
    });
    return {
      kind: 'json',
      status,
      body: facts.dialect.error(status, code, reason),
      headers: receiptHeaders(link),
    };
  }

  /**
   * Writes the call's receipt. A provider that answered has had the call, so a receipt the schema
   * refuses to build from what the call reported is never the end of it (it was a 500 with only the
   * intent journal knowing): a receipt of what is certain (who asked, what, when, what was reserved)
   * is written in its place, outcome failed and saying why, and `fallback` tells the caller, which
   * then passes no answer on as if the call had been recorded as it went.
   */
  async #receipt(
    facts: CallFacts,
    result: CallResult,
  ): Promise<ReceiptLink & { readonly fallback?: string }> {
    const predicate = this.#predicate(facts, result);
    const ack = this.parts.config.receipt_ack;
    this.parts.metrics.llmDuration.observe(
      { provider: facts.provider?.name ?? 'none', model: facts.requested, outcome: result.outcome },
      predicate.durationMs / 1000,
    );
    try {
      return await this.parts.receipts.modelCall(predicate, facts.caller.name, undefined, facts.intent, ack);
    } catch (error) {
      if (!(error instanceof OacpError) || error.code !== 'ATTEST_STATEMENT_INVALID') throw error;
      const fallback = `the call's receipt could not be built, so it is recorded as failed: ${error.message.slice(0, 512)}`;
      const link = await this.parts.receipts.modelCall(
        certainPredicate(facts, predicate, fallback),
        facts.caller.name,
        undefined,
        facts.intent,
        ack,
      );
      return { ...link, fallback };
    }
  }

  #predicate(facts: CallFacts, result: CallResult): ModelCallPredicateInput {
    const finished = this.#now();
    const durationMs = Math.max(0, finished.getTime() - facts.started.getTime());
    return {
      agent: { did: facts.caller.did },
      endpoint: facts.dialect.endpoint,
      ...(facts.provider === undefined
        ? {}
        : { provider: { name: facts.provider.name, kind: facts.provider.kind } }),
      model: { requested: facts.requested, ...(facts.served === undefined ? {} : { served: facts.served }) },
      stream: facts.stream,
      ...(facts.batch === undefined ? {} : { batch: { id: facts.batch.id, item: facts.batch.item } }),
      requestDigest: facts.requestDigest(),
      ...(result.responseDigest === undefined ? {} : { responseDigest: result.responseDigest }),
      usage: {
        estimatedInputTokens: facts.estimated,
        reservedTokens: facts.reserved,
        inputTokens: result.usage?.inputTokens ?? 0,
        outputTokens: result.usage?.outputTokens ?? 0,
        ...(facts.charged === undefined ? {} : { chargedTokens: facts.charged }),
        ...(result.notReported === undefined ? {} : { notReported: [...result.notReported] }),
      },
      ...(result.toolFees === undefined ? {} : { toolFees: result.toolFees.map((fee) => ({ ...fee })) }),
      ...(result.serviceTier === undefined ? {} : { serviceTier: { ...result.serviceTier } }),
      ...((result.cost ?? facts.chargedCost) === undefined
        ? {}
        : { costUsd: (result.cost ?? facts.chargedCost ?? 0) / 1e6 }),
      outcome: result.outcome,
      ...(result.reason === undefined ? {} : { reason: result.reason.slice(0, 1024) }),
      policy: facts.policy,
      attempts: [...facts.attempts],
      startedAt: facts.started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs,
    };
  }
}

/**
 * The receipt of a call whose own receipt could not be built: the one built (#predicate) held to
 * what the gateway itself knows for certain, each field to what the predicate takes (a count past
 * 2^53-1 becomes absent or 0, a finish before the start (the clock stepped back) the start, a part
 * its schema refuses left out), so it always builds. The provider's counts, served model and
 * answer digest are what it cannot vouch for; the rest of what it settled stays.
 */
function certainPredicate(
  facts: CallFacts,
  built: ModelCallPredicateInput,
  reason: string,
): ModelCallPredicateInput {
  const count = (value: number | undefined) =>
    value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const charged = count(facts.charged);
  const denied = facts.policy.effect === 'deny';
  // The tries and the cost are the gateway's own facts (what it sent, what it charged): they stay,
  // each as far as the predicate takes it, so a fallback receipt still says what the call cost.
  const attempts = built.attempts.filter((attempt) => ModelAttemptSchema.safeParse(attempt).success);
  const cost =
    built.costUsd !== undefined && Number.isFinite(built.costUsd) && built.costUsd >= 0
      ? built.costUsd
      : undefined;
  const finished = Math.max(facts.started.getTime(), Date.parse(built.finishedAt) || 0);
  const notReported = ModelNotReportedSchema.safeParse(built.usage.notReported);
  const toolFees = ModelToolFeesSchema.safeParse(built.toolFees);
  const serviceTier = ModelServiceTierSchema.safeParse(built.serviceTier);
  return {
    agent: built.agent,
    endpoint: built.endpoint,
    ...(built.provider === undefined ? {} : { provider: built.provider }),
    model: { requested: built.model.requested },
    stream: built.stream,
    ...(built.batch === undefined ? {} : { batch: built.batch }),
    requestDigest: built.requestDigest,
    usage: {
      estimatedInputTokens: count(facts.estimated) ?? 0,
      reservedTokens: count(facts.reserved) ?? 0,
      inputTokens: 0,
      outputTokens: 0,
      ...(charged === undefined ? {} : { chargedTokens: charged }),
      ...(notReported.success ? { notReported: notReported.data } : {}),
    },
    ...(toolFees.success ? { toolFees: toolFees.data } : {}),
    ...(serviceTier.success && Number.isFinite(serviceTier.data.multiplier)
      ? { serviceTier: serviceTier.data }
      : {}),
    outcome: denied ? 'denied' : 'failed',
    reason: reason.slice(0, 1024),
    ...(cost === undefined ? {} : { costUsd: cost }),
    policy: facts.policy,
    attempts,
    startedAt: facts.started.toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - facts.started.getTime(),
  };
}

const INTERRUPTED =
  'the gateway ended (killed) while the provider had the call; recorded when its home was next opened: the answer and usage are unknown';

/** What a receipt knows of a call before any check has run. */
function newFacts(
  dialect: Dialect,
  caller: ModelCaller,
  started: Date,
  requestDigest: string | (() => string),
): CallFacts {
  return {
    dialect,
    caller,
    started,
    requestDigest: typeof requestDigest === 'string' ? () => requestDigest : requestDigest,
    requested: 'unknown',
    stream: false,
    estimated: 0,
    reserved: 0,
    charged: 0,
    attempts: [],
    policy: { effect: 'deny', reason: 'not checked', policyDigest: NO_POLICY_DIGEST },
  };
}

/** sha256 of the JCS form of a request body, made on first use and remembered. */
function requestDigestOf(body: unknown): () => string {
  let digest: string | undefined;
  return () => {
    if (digest !== undefined) return digest;
    try {
      digest = sha256Hex(canonicalize(body));
    } catch {
      digest = sha256Hex(JSON.stringify(String(body)));
    }
    return digest;
  };
}

/** Whether an OpenAI-format streaming request asked for the usage chunk (`stream_options.include_usage`). */
function asksUsage(record: Readonly<Record<string, unknown>>): boolean {
  const options = record.stream_options;
  return (
    typeof options === 'object' &&
    options !== null &&
    (options as { include_usage?: unknown }).include_usage === true
  );
}

/** A quota store that could not answer: the call is refused. */
function storeDown(error: unknown): Extract<BudgetVerdict, { effect: 'deny' }> {
  return {
    effect: 'deny',
    quota: 'models.budgets',
    reason: `the quota store could not answer, so the call is refused: ${(error as Error).message}`,
  };
}

function receiptHeaders(link: ReceiptLink): Record<string, string> {
  return { 'oacp-receipt': String(link.index), 'oacp-receipt-log': link.log };
}

/** A served answer's usage with what failed-over tries were billed (dispatch billedUsage). */
function withBilled(usage: TokenUsage, billed: TokenUsage): TokenUsage {
  return {
    inputTokens: usage.inputTokens + billed.inputTokens,
    outputTokens: usage.outputTokens + billed.outputTokens,
  };
}
