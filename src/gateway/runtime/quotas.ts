import { type QuotaEngine, type QuotaRequest, STORE_QUOTA } from '../../airlock/quota/engine.js';
import type { RateUsage } from '../../airlock/quota/ledger.js';
import { bucketShape, RATE_QUOTAS, type RateQuota, rateSpec } from '../../airlock/quota/rate-quotas.js';
import type { Manifest } from '../../capability/manifest.js';
import type { BucketShape } from '../../store/types.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { quotaRefusal, RuntimeError } from './errors.js';

export interface GatewayQuotaOptions {
  /** Calls per minute per tool, across all agents. */
  readonly tools?: Readonly<Record<string, number>>;
  /** Calls per minute per API key, unless the key carries its own limit. */
  readonly apiKeyCallsPerMinute?: number;
  /** LLM tokens an agent may be charged in total (the budget field); unlimited when absent. */
  readonly llmTokenBudget?: number;
  /** Calls per minute one agent may make to one MCP server (`mcp.servers[].quota_calls`), by server name. */
  readonly servers?: Readonly<Record<string, number>>;
}

/** An agent as quotas see it: counted by did, labelled by name in metrics. */
export interface QuotaAgent {
  readonly did: string;
  readonly name: string;
}

/** Who a tool call is charged to. */
export interface QuotaSubject {
  readonly agent: QuotaAgent;
  readonly manifest: Manifest;
  /** The tool as the gateway's registry names it (`echo`, `<server>.<tool>` for MCP tools). */
  readonly tool: string;
  /** The MCP server the tool comes from; absent for native tools. */
  readonly server?: string;
  readonly apiKey?: { readonly id: string; readonly callsPerMinute?: number };
}

/** How much one agent has used, for the API. */
export interface AgentQuotaUsage {
  readonly toolCalls: number;
  readonly llmTokens: number;
  readonly llmTokenBudget?: number;
  readonly rates: Readonly<Record<RateQuota, RateUsage>>;
}

/**
 * Bucket keys: the same string on every node and across restarts, so state
 * in the store is found again. Tools are keyed by the registry's name, which
 * is what `oacp.yaml quotas.tools` and the gateway's receipts call them.
 */
export const quotaKeys = {
  agent: (did: string, rate: RateQuota | 'llm_tokens') => `agent:${did}:${rate}`,
  tool: (name: string) => `tool:${name}:calls_per_min`,
  apiKey: (id: string) => `api_key:${id}:calls_per_min`,
  server: (name: string, did: string) => `mcp_server:${name}:${did}:calls_per_min`,
};

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * The gateway's quotas (per agent from its manifest, per tool, per API key,
 * the agent's LLM-token budget), all kept by one QuotaEngine on the store: a
 * restart, a crash or another gateway on the same PostgreSQL sees the same
 * buckets. A call reserves from every bucket it is subject to at once, so a
 * refusal costs nothing; the refusal names the quota that said no. If the
 * engine cannot answer, the call is refused.
 */
export class GatewayQuotas {
  constructor(
    private readonly options: GatewayQuotaOptions,
    private readonly metrics: GatewayMetrics,
    readonly engine: QuotaEngine,
  ) {}

  /** The buckets one tool call draws on, one token each. */
  toolCallRequests(subject: QuotaSubject): QuotaRequest[] {
    const requests = [this.agentRate(subject.agent.did, subject.manifest, 'api_calls_per_hour', 1)];
    const toolLimit = this.options.tools?.[subject.tool];
    if (toolLimit !== undefined) {
      requests.push(perMinute(quotaKeys.tool(subject.tool), `tool.${subject.tool}.calls_per_min`, toolLimit));
    }
    const serverLimit = subject.server === undefined ? undefined : this.options.servers?.[subject.server];
    if (subject.server !== undefined && serverLimit !== undefined) {
      requests.push(
        perMinute(
          quotaKeys.server(subject.server, subject.agent.did),
          `mcp.${subject.server}.quota_calls`,
          serverLimit,
        ),
      );
    }
    const keyLimit = subject.apiKey?.callsPerMinute ?? this.options.apiKeyCallsPerMinute;
    if (subject.apiKey !== undefined && keyLimit !== undefined) {
      requests.push(
        perMinute(
          quotaKeys.apiKey(subject.apiKey.id),
          `api_key.${subject.apiKey.id}.calls_per_min`,
          keyLimit,
        ),
      );
    }
    return requests;
  }

  /** Reserves every quota the call is subject to, or none; throws a quota refusal naming the one that said no. */
  async admitToolCall(subject: QuotaSubject): Promise<void> {
    await this.admit(this.toolCallRequests(subject), `agent ${subject.agent.name}`);
    this.metrics.quotaConsumed.inc({ resource: 'tool_calls', agent: subject.agent.name });
  }

  /** One `fetch` from the agent's sandbox, against its network_requests_per_min. */
  async admitNetworkRequest(agent: QuotaAgent, manifest: Manifest): Promise<void> {
    await this.admit(
      [this.agentRate(agent.did, manifest, 'network_requests_per_min', 1)],
      `agent ${agent.name}`,
    );
    this.metrics.quotaConsumed.inc({ resource: 'network_requests', agent: agent.name });
  }

  /** One `oacp.models.chat` from the agent's sandbox, against its api_calls_per_hour (tokens are the model budget's). */
  async admitModelCall(agent: QuotaAgent, manifest: Manifest): Promise<void> {
    await this.admit([this.agentRate(agent.did, manifest, 'api_calls_per_hour', 1)], `agent ${agent.name}`);
  }

  /** Charges LLM tokens: refused beyond the manifest's per-request cap or the agent's total budget. */
  async chargeTokens(agent: QuotaAgent, manifest: Manifest, tokens: number): Promise<void> {
    if (!Number.isInteger(tokens) || tokens < 0)
      throw new RangeError('tokens must be a non-negative integer');
    const perRequest = manifest.quotas.llm_tokens_per_request;
    if (tokens > perRequest) {
      throw quotaRefusal(
        'agent.llm_tokens_per_request',
        `quota llm_tokens_per_request exceeded: ${tokens} tokens in one request, limit ${perRequest}`,
      );
    }
    await this.admit([{ ...this.tokenBudget(agent.did), amount: tokens }], `agent ${agent.name}`);
    this.metrics.quotaConsumed.inc({ resource: 'llm_tokens', agent: agent.name }, tokens);
  }

  async usage(agent: string, manifest: Manifest): Promise<AgentQuotaUsage> {
    const rates = {} as Record<RateQuota, RateUsage>;
    for (const rate of RATE_QUOTAS) {
      const request = this.agentRate(agent, manifest, rate, 0);
      const used = await this.engine.usage(request.key, request.shape);
      rates[rate] = { limit: request.label, ...used };
    }
    const tokens = this.tokenBudget(agent);
    const budget = this.options.llmTokenBudget;
    return {
      toolCalls: rates.api_calls_per_hour.used,
      llmTokens: (await this.engine.usage(tokens.key, tokens.shape)).used,
      ...(budget === undefined ? {} : { llmTokenBudget: budget }),
      rates,
    };
  }

  private async admit(requests: readonly QuotaRequest[], who: string): Promise<void> {
    const admission = await this.engine.reserve(requests);
    if (admission.ok) return;
    const { quota, reason, retryAfterMs } = admission.refusal;
    if (quota === STORE_QUOTA) {
      throw new RuntimeError('RUNTIME_QUOTA_UNAVAILABLE', `${who}: ${reason}`, { quota });
    }
    throw quotaRefusal(quota, `${who}: ${reason}`, retryAfterMs);
  }

  private agentRate(did: string, manifest: Manifest, rate: RateQuota, amount: number): QuotaRequest {
    const spec = rateSpec(manifest.quotas, rate);
    return {
      key: quotaKeys.agent(did, rate),
      quota: `agent.${rate}`,
      label: spec.label,
      shape: bucketShape(spec),
      amount,
    };
  }

  private tokenBudget(did: string): Omit<QuotaRequest, 'amount'> {
    const budget = this.options.llmTokenBudget;
    // A budget is a bucket that never refills; without one the bucket only counts.
    const shape: BucketShape = { capacity: budget ?? UNLIMITED, refill: 0, windowMs: 1 };
    return {
      key: quotaKeys.agent(did, 'llm_tokens'),
      quota: 'agent.llm_tokens',
      label: budget === undefined ? 'unlimited' : `${budget} tokens in total`,
      shape,
    };
  }
}

function perMinute(key: string, quota: string, limit: number): QuotaRequest {
  return {
    key,
    quota,
    label: `${limit}/min`,
    shape: { capacity: limit, refill: limit, windowMs: 60_000 },
    amount: 1,
  };
}
