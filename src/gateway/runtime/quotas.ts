import { type Clock, monotonicClock } from '../../airlock/quota/clock.js';
import { QuotaLedger } from '../../airlock/quota/ledger.js';
import { TokenBucket } from '../../airlock/quota/token-bucket.js';
import type { Manifest } from '../../capability/manifest.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { quotaRefusal } from './errors.js';

export interface GatewayQuotaOptions {
  /** Calls per minute per tool, across all agents. */
  readonly tools?: Readonly<Record<string, number>>;
  /** Calls per minute per API key, unless the key carries its own limit. */
  readonly apiKeyCallsPerMinute?: number;
  /** LLM tokens an agent may be charged in total (the budget field); unlimited when absent. */
  readonly llmTokenBudget?: number;
}

/** Who a call is charged to. */
/** An agent as quotas see it: counted by did, labelled by name in metrics. */
export interface QuotaAgent {
  readonly did: string;
  readonly name: string;
}

export interface QuotaSubject {
  readonly agent: QuotaAgent;
  readonly manifest: Manifest;
  readonly tool: string;
  readonly apiKey?: { readonly id: string; readonly callsPerMinute?: number };
  /** The agent's api_calls_per_hour was already taken (by the sandbox's host bridge, which shares this ledger). */
  readonly agentAlreadyCharged?: boolean;
}

/** How much one agent has used, for the API and for checking consistency after a restart. */
export interface AgentQuotaUsage {
  readonly toolCalls: number;
  readonly llmTokens: number;
  readonly llmTokenBudget?: number;
}

/**
 * The Airlock's quotas as the gateway applies them: per agent (the manifest's
 * rate quotas, in one QuotaLedger shared with the agent's sandbox), per tool,
 * per API key, and the agent's LLM-token budget. A call is checked against
 * every quota before any is charged, so a refusal costs nothing; the refusal
 * names the quota that said no.
 */
export class GatewayQuotas {
  private readonly agents = new Map<string, { ledger: QuotaLedger; manifest: Manifest }>();
  private readonly tools = new Map<string, TokenBucket>();
  private readonly keys = new Map<string, { bucket: TokenBucket; perMinute: number }>();
  private readonly tokens = new Map<string, number>();
  private readonly calls = new Map<string, number>();

  constructor(
    private readonly options: GatewayQuotaOptions,
    private readonly metrics: GatewayMetrics,
    private readonly clock: Clock = monotonicClock,
  ) {}

  /** The agent's ledger (shared with its sandbox so fetches and tool calls draw on one budget), by did. */
  ledger(agent: string, manifest: Manifest): QuotaLedger {
    const known = this.agents.get(agent);
    if (known !== undefined && known.manifest === manifest) return known.ledger;
    const ledger = new QuotaLedger(manifest.quotas, this.clock);
    this.agents.set(agent, { ledger, manifest });
    return ledger;
  }

  /** Checks every quota the call is subject to, then charges them all; throws a quota refusal naming the first that refuses. */
  admitToolCall(subject: QuotaSubject): void {
    const ledger = this.ledger(subject.agent.did, subject.manifest);
    const toolLimit = this.options.tools?.[subject.tool];
    const toolBucket = toolLimit === undefined ? undefined : this.toolBucket(subject.tool, toolLimit);
    const key = subject.apiKey === undefined ? undefined : this.keyBucket(subject.apiKey);

    if (subject.agentAlreadyCharged !== true) {
      const agentCheck = ledger.check('api_calls_per_hour');
      if (agentCheck.effect === 'deny') {
        throw quotaRefusal('agent.api_calls_per_hour', `agent ${subject.agent.name}: ${agentCheck.reason}`);
      }
    }
    if (toolBucket !== undefined && toolLimit !== undefined && toolBucket.available() < 1) {
      throw quotaRefusal(
        `tool.${subject.tool}.calls_per_min`,
        `quota tool.${subject.tool}.calls_per_min exceeded: limit ${toolLimit}/min`,
        toolBucket.msUntil(1),
      );
    }
    if (key !== undefined && subject.apiKey !== undefined && key.bucket.available() < 1) {
      throw quotaRefusal(
        `api_key.${subject.apiKey.id}.calls_per_min`,
        `quota api_key.${subject.apiKey.id}.calls_per_min exceeded: limit ${key.perMinute}/min`,
        key.bucket.msUntil(1),
      );
    }
    if (subject.agentAlreadyCharged !== true) ledger.consume('api_calls_per_hour');
    toolBucket?.tryTake(1);
    key?.bucket.tryTake(1);
    this.calls.set(subject.agent.did, (this.calls.get(subject.agent.did) ?? 0) + 1);
    this.metrics.quotaConsumed.inc({ resource: 'tool_calls', agent: subject.agent.name });
  }

  /** Charges LLM tokens: refused beyond the manifest's per-request cap or the agent's total budget. */
  chargeTokens(agent: QuotaAgent, manifest: Manifest, tokens: number): void {
    if (!Number.isInteger(tokens) || tokens < 0)
      throw new RangeError('tokens must be a non-negative integer');
    const perRequest = manifest.quotas.llm_tokens_per_request;
    if (tokens > perRequest) {
      throw quotaRefusal(
        'agent.llm_tokens_per_request',
        `quota llm_tokens_per_request exceeded: ${tokens} tokens in one request, limit ${perRequest}`,
      );
    }
    const used = this.tokens.get(agent.did) ?? 0;
    const budget = this.options.llmTokenBudget;
    if (budget !== undefined && used + tokens > budget) {
      throw quotaRefusal(
        'agent.llm_tokens',
        `quota llm_tokens exceeded for agent ${agent.name}: ${used} of ${budget} used, ${tokens} more asked`,
      );
    }
    this.tokens.set(agent.did, used + tokens);
    this.metrics.quotaConsumed.inc({ resource: 'llm_tokens', agent: agent.name }, tokens);
  }

  /** Records network requests the sandbox made (its ledger already enforced them), for the metric. */
  noteNetworkRequests(agent: QuotaAgent, count: number): void {
    if (count > 0) this.metrics.quotaConsumed.inc({ resource: 'network_requests', agent: agent.name }, count);
  }

  usage(agentDid: string): AgentQuotaUsage {
    const budget = this.options.llmTokenBudget;
    return {
      toolCalls: this.calls.get(agentDid) ?? 0,
      llmTokens: this.tokens.get(agentDid) ?? 0,
      ...(budget === undefined ? {} : { llmTokenBudget: budget }),
    };
  }

  /**
   * Replays consumption recorded before a restart (counted from the receipts in
   * the log), so a crash does not hand out a fresh quota.
   */
  restore(
    agent: QuotaAgent,
    manifest: Manifest,
    toolCalls: number,
    perTool: ReadonlyMap<string, number>,
  ): void {
    const ledger = this.ledger(agent.did, manifest);
    const available = ledger.usage().api_calls_per_hour.available;
    if (toolCalls > 0) ledger.consume('api_calls_per_hour', Math.min(toolCalls, available));
    this.calls.set(agent.did, (this.calls.get(agent.did) ?? 0) + toolCalls);
    if (toolCalls > 0)
      this.metrics.quotaConsumed.inc({ resource: 'tool_calls', agent: agent.name }, toolCalls);
    for (const [tool, count] of perTool) {
      const limit = this.options.tools?.[tool];
      if (limit === undefined) continue;
      const bucket = this.toolBucket(tool, limit);
      bucket.tryTake(Math.min(count, Math.floor(bucket.available())));
    }
  }

  forget(agentDid: string): void {
    this.agents.delete(agentDid);
  }

  private toolBucket(tool: string, perMinute: number): TokenBucket {
    let bucket = this.tools.get(tool);
    if (bucket === undefined) {
      bucket = new TokenBucket(perMinute, perMinute / 60_000, this.clock);
      this.tools.set(tool, bucket);
    }
    return bucket;
  }

  private keyBucket(key: { readonly id: string; readonly callsPerMinute?: number }) {
    const perMinute = key.callsPerMinute ?? this.options.apiKeyCallsPerMinute;
    if (perMinute === undefined) return undefined;
    let entry = this.keys.get(key.id);
    if (entry === undefined || entry.perMinute !== perMinute) {
      entry = { bucket: new TokenBucket(perMinute, perMinute / 60_000, this.clock), perMinute };
      this.keys.set(key.id, entry);
    }
    return entry;
  }
}
