import { namePatternMatches } from '../capability/name-pattern.js';
import type { Decision } from '../core/decision.js';
import { combinedPolicyDigest } from '../policy/combined-digest.js';
import { decidedBy } from '../policy/decided-by.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { ToolPins } from '../policy/pins.js';
import type { ApprovalChannels, Approver } from './approval.js';
import type { CallQuota } from './call-quota.js';
import type { ListedArguments } from './listed-arguments.js';
import type { CallChecks } from './record.js';
import { checkTool, type ToolFilter } from './tool-filter.js';

/** The facts about one tools/call the checks are run on. */
export interface CallContext {
  readonly callId: string;
  readonly agent: string;
  /** Whose quota the call takes (see Principal.ownBucket): the agent, or every self-named caller together. */
  readonly quotaHolder: string;
  readonly server: string;
  /** As the client named it. */
  readonly tool: string;
  /** As the upstream server names it (the pin is kept under this name). */
  readonly upstreamTool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Decisions an embedding caller (the gateway) makes, joined into this call's one decision. */
  readonly prior?: PriorChecks;
  /**
   * A policed read (resources/read, prompts/get, …; see read-requests.ts) rather than a
   * tools/call: judged by Cedar as `Action::"<read.action>"` on `read.resource`. Pins, the
   * tools list and approval speak of tools and are not asked; quotas count it as a call.
   */
  readonly read?: {
    readonly action: string;
    readonly resource: { readonly type: 'Resource' | 'Prompt'; readonly id: string };
    /** The uri as a URL parser reads it, when spelled otherwise: judged too, the first deny wins. */
    readonly canonical?: string;
  };
}

type Check = { readonly effect: 'allow' | 'deny'; readonly reason: string };
type PriorPolicy = Check & { readonly policyIds: readonly string[]; readonly policyDigest: string };

/**
 * The gateway's own checks, run in the pipeline's order with the bridge's: its
 * manifest tools list with the tools list, its tool-call and global policies
 * with the Cedar policy (one decision, every policy id named, one digest over
 * every policy set), its quotas with the quota (last, so a refused call costs
 * none). One receipt then covers all of them.
 */
export interface PriorChecks {
  readonly tools?: Check;
  /** Judged on the arguments once their shape is known good; an exception in it is a deny. */
  readonly policy?: (args: Readonly<Record<string, unknown>>) => PriorPolicy;
  /** Takes quota; called only when everything else allowed the call. */
  readonly quota?: () => Check | Promise<Check>;
}

/** The parts that decide whether a call may reach the server; all optional. */
export interface GateParts {
  readonly pins?: ToolPins;
  /** The argument names each tool's listed inputSchema gives (the pipeline's shape step checks against them). */
  readonly listed?: ListedArguments;
  readonly tools?: ToolFilter;
  readonly policy?: PolicyEngine;
  readonly approval?: { readonly tools: readonly string[]; readonly approver: Approver };
  readonly quota?: CallQuota;
  /**
   * `--learn`: refusals by the tools list and the Cedar policy are recorded
   * here and the call goes ahead. Pins, agent signatures, approvals and quotas
   * still refuse: they guard against attacks, not against a tight manifest.
   */
  readonly learn?: { observe(call: CallContext, wouldDeny: readonly string[]): void };
}

export interface Admission {
  readonly decision: Decision;
  readonly checks: CallChecks;
}

/**
 * Runs the checks in a fixed order (pin, tools list, Cedar policy, approval,
 * quota) and stops at the first refusal. The quota is last so a refused call
 * never uses up quota; approval comes after policy so nobody is asked to
 * approve what policy forbids anyway. An exception in any check is a deny.
 */
export async function admitCall(
  parts: GateParts,
  call: CallContext,
  channels: ApprovalChannels,
  signal?: AbortSignal,
): Promise<Admission> {
  const checks: { -readonly [K in keyof CallChecks]: CallChecks[K] } = {};
  const wouldDeny: string[] = [];
  try {
    if (parts.pins !== undefined && call.read === undefined) {
      const pin = parts.pins.check(call.server, call.upstreamTool);
      const digest = parts.pins.pinned(call.server, call.upstreamTool);
      checks.pin = { effect: pin.effect, reason: pin.reason, ...(digest === undefined ? {} : { digest }) };
      if (pin.effect === 'deny') return { decision: pin, checks };
    }
    const priorTools = call.prior?.tools;
    if (priorTools?.effect === 'deny') {
      checks.tools = priorTools;
      return { decision: { effect: 'deny', reason: priorTools.reason }, checks };
    }
    if (parts.tools !== undefined && call.read === undefined) {
      const tools = checkTool(parts.tools, call.tool);
      checks.tools = { effect: tools.effect, reason: tools.reason };
      if (tools.effect === 'deny') {
        if (parts.learn === undefined) return { decision: tools, checks };
        wouldDeny.push(tools.reason);
      }
    }
    const priorPolicy = call.prior?.policy?.(call.arguments);
    if (parts.policy !== undefined) {
      const engine = parts.policy;
      const judge = (resource?: { readonly type: 'Resource' | 'Prompt'; readonly id: string }) =>
        engine.authorize({
          agent: call.agent,
          tool: call.tool,
          server: call.server,
          arguments: call.arguments,
          ...(call.read === undefined || resource === undefined
            ? {}
            : { action: call.read.action, resource }),
        });
      let policy = judge(call.read?.resource);
      const canonical = call.read?.canonical;
      if (policy.effect === 'allow' && call.read !== undefined && canonical !== undefined) {
        // Another spelling of one uri (an escape, a dot segment) must not pass a forbid on it.
        const read = judge({ type: call.read.resource.type, id: canonical });
        if (read.effect === 'deny') {
          policy = {
            ...read,
            reason: `${read.reason} (the uri judged as a URL parser reads it: ${canonical})`,
          };
        }
      }
      checks.policy = joinPolicies(
        {
          effect: policy.effect,
          reason: policy.reason,
          policyIds: policy.policyIds,
          policyDigest: policy.policyDigest,
        },
        priorPolicy,
      );
      if (checks.policy.effect === 'deny') {
        const decision = { effect: 'deny' as const, reason: checks.policy.reason };
        if (parts.learn === undefined || priorPolicy?.effect === 'deny') return { decision, checks };
        wouldDeny.push(checks.policy.reason);
      }
    } else if (priorPolicy !== undefined) {
      checks.policy = priorPolicy;
      if (checks.policy.effect === 'deny')
        return { decision: { effect: 'deny', reason: checks.policy.reason }, checks };
    }
    if (
      call.read === undefined &&
      parts.approval?.tools.some((pattern) => namePatternMatches(pattern, call.tool))
    ) {
      const approval = await parts.approval.approver.approve(
        {
          callId: call.callId,
          agent: call.agent,
          server: call.server,
          tool: call.tool,
          arguments: call.arguments,
        },
        channels,
        signal,
      );
      checks.approval = approval;
      if (!approval.approved) return { decision: { effect: 'deny', reason: approval.reason }, checks };
    }
    if (parts.quota !== undefined) {
      const quota = await parts.quota.take(call.quotaHolder, call.tool);
      checks.quota = { effect: quota.effect, reason: quota.reason };
      if (quota.effect === 'deny') return { decision: quota, checks };
    }
    if (call.prior?.quota !== undefined) {
      const quota = await call.prior.quota();
      checks.quota = { effect: quota.effect, reason: quota.reason };
      if (quota.effect === 'deny') return { decision: { effect: 'deny', reason: quota.reason }, checks };
    }
  } catch (error) {
    const reason = `check failed: ${error instanceof Error ? error.message : String(error)}`;
    return { decision: { effect: 'deny', reason }, checks };
  }
  // Learning drafts a tools list: a read names no tool.
  if (call.read === undefined) parts.learn?.observe(call, wouldDeny);
  if (wouldDeny.length > 0) {
    return {
      decision: { effect: 'allow', reason: `learn mode: allowed although ${wouldDeny.join('; ')}` },
      checks,
    };
  }
  return { decision: { effect: 'allow', reason: allowReason(checks) }, checks };
}

/** The bridge's Cedar decision and the caller's policies as one: deny if either denies, every id named. */
function joinPolicies(
  bridge: NonNullable<CallChecks['policy']>,
  prior: PriorPolicy | undefined,
): NonNullable<CallChecks['policy']> {
  if (prior === undefined) return bridge;
  const policyDigest = combinedPolicyDigest(bridge.policyDigest, prior.policyDigest);
  if (prior.effect === 'deny') return { ...prior, policyDigest };
  if (bridge.effect === 'deny') return { ...bridge, policyDigest };
  return {
    effect: 'allow',
    reason: `${bridge.reason}; ${prior.reason}`,
    policyIds: decidedBy(bridge.policyIds, prior.policyIds),
    policyDigest,
  };
}

function allowReason(checks: CallChecks): string {
  if (checks.approval !== undefined)
    return `${checks.policy?.reason ?? 'allowed'}; ${checks.approval.reason}`;
  return checks.policy?.reason ?? checks.tools?.reason ?? 'no policy configured: allowed';
}
