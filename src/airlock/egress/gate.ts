import { type Decision, deny } from '../../core/decision.js';
import { describeError } from '../../core/errors.js';
import { STORE_QUOTA } from '../quota/engine.js';
import type { EgressAudit } from './audit.js';
import { type Resolver, resolveAll } from './resolver.js';
import type { Destination, EgressRules } from './rules.js';

/** The outcome of checking one request: a decision, and on allow the address to dial. */
export type GateResult =
  | { readonly effect: 'allow'; readonly decision: Decision; readonly address: string }
  | { readonly effect: 'deny'; readonly decision: Decision; readonly status: 403 | 429 | 502 };

export interface GateParts {
  readonly rules: EgressRules;
  readonly resolver: Resolver;
  /** Takes one request from the sandbox's network_requests_per_min budget. */
  readonly limiter: RequestLimiter;
  readonly audit: EgressAudit;
}

export interface RequestLimiter {
  /** Resolves to a deny (never rejects) when the budget cannot be checked: quota/request-budget.ts. */
  take(): Promise<Decision>;
}

/**
 * Decides one egress request: rate limit, host and port, DNS, then every
 * resolved address. The caller dials the returned address, never the name,
 * so the answer that was checked is the one that is used (no rebinding
 * between check and connect). Every outcome is recorded.
 */
export async function checkEgress(
  parts: GateParts,
  method: string,
  target: Destination,
): Promise<GateResult> {
  const record = (decision: Decision, address?: string): void =>
    parts.audit.record({
      at: new Date().toISOString(),
      effect: decision.effect,
      reason: decision.reason,
      method,
      host: target.host,
      port: target.port,
      ...(address === undefined ? {} : { address }),
    });
  const refuse = (decision: Decision, status: 403 | 429 | 502, address?: string): GateResult => {
    record(decision, address);
    return { effect: 'deny', decision, status };
  };

  let quota: Decision;
  try {
    quota = await parts.limiter.take();
  } catch (error) {
    // Deny by default: a limiter that fails is a refusal with its reason, recorded like any other.
    quota = deny(
      `network request budget could not be checked (${describeError(error)}); refused`,
      STORE_QUOTA,
    );
  }
  // Over budget is 429; a budget that could not be checked (its store did not answer) is the proxy's failure.
  if (quota.effect === 'deny') return refuse(quota, quota.policyId === STORE_QUOTA ? 502 : 429);
  const hostDecision = parts.rules.decide(target);
  if (hostDecision.effect === 'deny') return refuse(hostDecision, 403);

  let addresses: readonly string[];
  try {
    addresses = await resolveAll(target.host, parts.resolver);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return refuse(deny(`cannot resolve ${target.host}: ${why}`, 'airlock.egress'), 502);
  }
  if (addresses.length === 0) return refuse(deny(`${target.host} has no addresses`, 'airlock.egress'), 502);
  for (const address of addresses) {
    const decision = parts.rules.decideAddress(target, address);
    if (decision.effect === 'deny') return refuse(decision, 403, address);
  }
  const address = addresses[0] ?? '';
  const decision = parts.rules.decideAddress(target, address);
  record(decision, address);
  return { effect: 'allow', decision, address };
}
