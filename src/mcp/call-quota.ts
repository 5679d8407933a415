import type { QuotaEngine } from '../airlock/quota/engine.js';
import { allow, type Decision, deny } from '../core/decision.js';

/** A limit on how many calls an agent may make; taken only for calls about to be forwarded. */
export interface CallQuota {
  take(agent: string, tool: string): Decision | Promise<Decision>;
}

/** The bucket's key: the same for every bridge on the home and after every restart. */
export function callQuotaKey(server: string, agent: string): string {
  return `mcp_run:${server}:${agent}:calls_per_min`;
}

/**
 * `--quota-calls N/min`: a token bucket per server and agent on the quota
 * engine (the home's SQLite store for `oacp mcp run`), holding N tokens and
 * refilled at N a minute: a burst of up to N is served and the long-run rate
 * is N a minute, together for every bridge on the home and across restarts.
 * A refusal is a hard cutoff, not a queue; a store that cannot answer refuses.
 */
export class CallRateQuota implements CallQuota {
  constructor(
    private readonly perMinute: number,
    private readonly engine: QuotaEngine,
    private readonly server: string,
  ) {}

  async take(agent: string): Promise<Decision> {
    const admission = await this.engine.reserve([
      {
        key: callQuotaKey(this.server, agent),
        quota: 'mcp.calls_per_min',
        label: `${this.perMinute}/min`,
        shape: { capacity: this.perMinute, refill: this.perMinute, windowMs: 60_000 },
        amount: 1,
      },
    ]);
    if (admission.ok) return allow(`within call quota (${this.perMinute} per minute)`);
    const { retryAfterMs, reason } = admission.refusal;
    if (admission.refusal.quota !== 'mcp.calls_per_min') return deny(reason, 'oacp/quota');
    const wait = retryAfterMs === undefined ? '' : `; retry in about ${Math.ceil(retryAfterMs / 1000)} s`;
    return deny(`call quota exceeded: ${this.perMinute} calls per minute${wait}`, 'oacp/quota');
  }
}
