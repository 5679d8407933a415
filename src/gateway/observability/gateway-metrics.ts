import type { Counter, Gauge, Histogram } from './metric-family.js';
import { MetricRegistry } from './registry.js';

export type ToolCallStatus = 'ok' | 'error' | 'denied' | 'quota';
export type SecuritySeverity = 'info' | 'warning' | 'critical';

/**
 * The gateway's metrics, named as in the architecture seed (oacp_agents_running,
 * oacp_tool_calls_total, ...) plus latency histograms. docs/gateway.md lists
 * them with their labels. One instance per gateway.
 */
export class GatewayMetrics {
  readonly registry = new MetricRegistry();
  readonly agentsRunning: Gauge;
  readonly toolCalls: Counter;
  readonly quotaConsumed: Counter;
  readonly attestations: Counter;
  readonly securityEvents: Counter;
  readonly contextOperations: Counter;
  readonly httpDuration: Histogram;
  readonly toolCallDuration: Histogram;
  readonly agentRunDuration: Histogram;
  readonly agentRestarts: Counter;
  readonly llmTokens: Counter;
  readonly llmDuration: Histogram;
  readonly llmBudgetRemaining: Gauge;
  readonly llmBreakerOpen: Gauge;
  readonly unreadAnswersCut: Counter;

  constructor(readonly node: string) {
    const r = this.registry;
    this.agentsRunning = r.gauge('oacp_agents_running', 'Agents whose sandbox is running on this node', [
      'node',
    ]);
    this.agentsRunning.set({ node }, 0);
    this.toolCalls = r.counter('oacp_tool_calls_total', 'Tool calls by outcome (ok, error, denied, quota)', [
      'tool',
      'agent',
      'status',
    ]);
    this.quotaConsumed = r.counter(
      'oacp_quota_consumed',
      'Quota units consumed (tool_calls, llm_tokens, network_requests) per agent',
      ['resource', 'agent'],
    );
    this.attestations = r.counter('oacp_attestations_generated', 'Receipts signed and logged', ['agent']);
    this.securityEvents = r.counter(
      'oacp_security_events_total',
      'Refused authentications, replays, policy denials, quota refusals, egress denials',
      ['severity', 'type'],
    );
    this.contextOperations = r.counter('oacp_context_operations_total', 'Agent context reads and writes', [
      'operation',
      'agent',
    ]);
    this.httpDuration = r.histogram('oacp_http_request_duration_seconds', 'HTTP request latency', [
      'method',
      'route',
      'status',
    ]);
    this.toolCallDuration = r.histogram(
      'oacp_tool_call_duration_seconds',
      'Tool call latency including checks and the receipt',
      ['tool'],
    );
    this.agentRunDuration = r.histogram(
      'oacp_agent_run_duration_seconds',
      'Agent code run latency including its execution receipt',
      ['agent'],
    );
    this.agentRestarts = r.counter('oacp_agent_restarts_total', 'Watchdog restarts of crashed agents', [
      'agent',
    ]);
    this.llmTokens = r.counter(
      'oacp_llm_tokens_total',
      'LLM tokens by agent, model and kind (input, output)',
      ['agent', 'model', 'kind'],
    );
    this.llmDuration = r.histogram(
      'oacp_llm_request_duration_seconds',
      'Model calls through the model gateway, checks and receipt included',
      ['provider', 'model', 'outcome'],
    );
    this.llmBudgetRemaining = r.gauge(
      'oacp_llm_budget_remaining_tokens',
      'Tokens left in the tightest model-budget window of an agent, after its last call',
      ['agent'],
    );
    this.llmBreakerOpen = r.gauge(
      'oacp_llm_breaker_open',
      "1 while a model provider's circuit breaker is open",
      ['provider'],
    );
    this.unreadAnswersCut = r.counter(
      'oacp_http_unread_answers_cut_total',
      'Answers cut (their connection closed) because the listener held more bytes unread by clients than gateway.max_unread_answer_bytes',
      [],
    );
    // Present at 0 from the start, so a rate over it is defined before the first cut.
    this.unreadAnswersCut.inc({}, 0);
  }

  setAgentsRunning(count: number): void {
    this.agentsRunning.set({ node: this.node }, count);
  }

  security(severity: SecuritySeverity, type: string): void {
    this.securityEvents.inc({ severity, type });
  }

  render(): string {
    return this.registry.render();
  }
}
