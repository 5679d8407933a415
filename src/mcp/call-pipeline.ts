import type { Decision } from '../core/decision.js';
import { looseMemberProblem } from '../core/twin-names.js';
import type { ApprovalChannels } from './approval.js';
import { admitCall, type GateParts, type PriorChecks } from './call-gate.js';
import { type CallShape, checkCallShape, recordedToolName, TOOL_CALL_MEMBERS } from './call-shape.js';
import { imitatedArgument, type ListedTool } from './listed-arguments.js';
import { exceedsLimits, type MessageLimits } from './message-limits.js';
import { type Principal, quotaHolder } from './principal.js';
import {
  checkReadShape,
  type PolicedRead,
  READ_MEMBERS,
  type ReadTarget,
  recordedReadName,
} from './read-requests.js';
import type { CallChecks } from './record.js';

type Deny = Decision & { readonly effect: 'deny' };

/** What a caller (the bridge, the gateway) plugs into the pipeline; the order is not theirs to choose. */
export interface PipelineSteps {
  readonly limits: MessageLimits;
  /** The tool's own argument schema (a native tool's), judged with the shape: the reason it fails. */
  readonly validate?: (args: Readonly<Record<string, unknown>>) => string | undefined;
  /** Undefined when the log can take the receipt now; else the deny that says why not. */
  reserve(): Deny | undefined;
  /** Who calls (identity) and that the request is fresh (replay), from the call's own proof. */
  identify(shape: CallShape): Principal | Promise<Principal>;
  readonly gate: GateParts;
  readonly callId: string;
  readonly server: string;
  /** As the upstream server names the tool (the pin is kept under this name); the tool's own name by default. */
  readonly upstreamTool?: string;
  readonly channels: ApprovalChannels;
  /** The embedding caller's own checks, joined into the one decision (see PriorChecks). */
  readonly prior?: PriorChecks;
  readonly signal?: AbortSignal;
  /** The request's method: `tools/call` when absent, else a policed read (read-requests.ts). */
  readonly method?: 'tools/call' | PolicedRead;
  /**
   * The params go on to a reader that may match member names loosely (an MCP server, in any
   * language: Go's encoding/json folds case), so names that read as one are refused (twin-names.ts).
   * Off for OACP's own executors (native tools, A2A agents), which read names exactly.
   */
  readonly looseReader?: boolean;
  /**
   * With `looseReader`: what the server listed of the tool's arguments (listed-arguments.ts), or
   * undefined when it never listed the tool. A member name imitating a listed one is refused.
   */
  readonly listed?: (tool: string) => ListedTool | undefined;
}

/** The pipeline's answer: every check that ran, each with its reason, and the one decision. */
export type PipelineVerdict =
  | {
      /** Refused on its shape or limits: nothing else was looked at. */
      readonly stage: 'shape';
      readonly tool: string;
      readonly arguments: unknown;
      readonly agent: undefined;
      readonly decision: Deny;
      readonly checks: CallChecks;
    }
  | {
      readonly stage: 'checked';
      readonly tool: string;
      readonly arguments: Readonly<Record<string, unknown>>;
      readonly shape: CallShape;
      /** The principal when identified; undefined when identity itself refused. */
      readonly agent: string | undefined;
      readonly signedRequest?: unknown;
      readonly decision: Decision;
      readonly checks: CallChecks;
    };

/**
 * THE one ordered list of checks every tool call goes through, whoever the
 * caller (the bridge's client, the gateway's native and MCP tools): shape and
 * limits (a missing name, `arguments` not an object, nesting past the depth
 * limit, the tool's own schema), the receipt slot (nothing runs that could not
 * be recorded), identity and replay, then the gate (pins, tools list, Cedar
 * with tool-call and global policies in one decision, approval, quotas; see
 * admitCall). A policed read (resources/read, prompts/get, …; `steps.method`)
 * goes through the same list, its shape being its method's and its Cedar
 * action and resource its own (read-requests.ts). The first refusal stops the list; every check that ran is in
 * `checks` with its reason; an exception inside a check is a deny.
 */
export async function decideCall(params: unknown, steps: PipelineSteps): Promise<PipelineVerdict> {
  const record = isRecord(params) ? params : undefined;
  const method = steps.method ?? 'tools/call';
  const named = method === 'tools/call' ? recordedToolName(record?.name) : recordedReadName(method, params);
  const refuse = (reason: string): PipelineVerdict => ({
    stage: 'shape',
    tool: named,
    arguments: method === 'tools/call' ? (record?.arguments ?? {}) : (params ?? {}),
    agent: undefined,
    decision: { effect: 'deny', reason },
    checks: { shape: { effect: 'deny', reason } },
  });
  let shape: CallShape;
  let read: ReadTarget | undefined;
  try {
    // Before anything reads a member: `name`/`NAME` would be judged as one tool and run as another.
    if (steps.looseReader === true) {
      const members = method === 'tools/call' ? TOOL_CALL_MEMBERS : READ_MEMBERS;
      const loose = looseMemberProblem(params, members, 'params');
      if (loose !== undefined) return refuse(loose);
    }
    if (method !== 'tools/call') {
      const overLimits = exceedsLimits(params, steps.limits);
      if (overLimits !== undefined) return refuse(`params: ${overLimits}`);
      const checked = checkReadShape(method, params);
      if (!checked.ok) return refuse(checked.decision.reason);
      read = checked.target;
      shape = { tool: named, arguments: read.arguments, meta: read.meta };
    } else {
      const overLimits = exceedsLimits(record?.arguments, steps.limits);
      if (overLimits !== undefined) return refuse(`"arguments": ${overLimits}`);
      const checked = checkCallShape(record);
      if (!checked.ok) return refuse(checked.decision.reason);
      const invalid = steps.validate?.(checked.call.arguments);
      if (invalid !== undefined) return refuse(invalid);
      const listed = steps.looseReader === true ? steps.listed?.(checked.call.tool) : undefined;
      const imitated = listed === undefined ? undefined : imitatedArgument(checked.call.arguments, listed);
      if (imitated !== undefined) return refuse(imitated);
      shape = checked.call;
    }
  } catch (error) {
    return refuse(`shape check failed: ${describe(error)}`);
  }
  const base = {
    stage: 'checked' as const,
    tool: shape.tool,
    arguments: shape.arguments,
    shape,
  };
  let checks: CallChecks = {
    shape: { effect: 'allow', reason: 'params well formed and within the limits' },
  };
  const slot = guarded(() => steps.reserve());
  if (slot !== undefined) {
    return { ...base, agent: undefined, decision: slot, checks: { ...checks, receiptSlot: slot } };
  }
  checks = { ...checks, receiptSlot: { effect: 'allow', reason: 'the log can take the receipt' } };
  let principal: Principal;
  try {
    principal = await steps.identify(shape);
  } catch (error) {
    principal = { ok: false, reason: `identity check failed: ${describe(error)}` };
  }
  if (!principal.ok) {
    return { ...base, agent: undefined, decision: { effect: 'deny', reason: principal.reason }, checks };
  }
  const identified = {
    ...base,
    agent: principal.id,
    ...(principal.signedRequest === undefined ? {} : { signedRequest: principal.signedRequest }),
  };
  const admission = await admitCall(
    steps.gate,
    {
      callId: steps.callId,
      agent: principal.id,
      quotaHolder: quotaHolder(principal),
      server: steps.server,
      tool: shape.tool,
      upstreamTool: steps.upstreamTool ?? shape.tool,
      arguments: shape.arguments,
      ...(steps.prior === undefined ? {} : { prior: steps.prior }),
      ...(read === undefined
        ? {}
        : {
            read: {
              action: method,
              resource: read.resource,
              ...(read.canonical === undefined ? {} : { canonical: read.canonical }),
            },
          }),
    },
    steps.channels,
    steps.signal,
  );
  return { ...identified, decision: admission.decision, checks: { ...checks, ...admission.checks } };
}

/** The receipt-slot step: a throwing reserve is a deny too. */
function guarded(reserve: () => Deny | undefined): Deny | undefined {
  try {
    return reserve();
  } catch (error) {
    return {
      effect: 'deny',
      reason: `no receipt can be written, so the call is refused: ${describe(error)}`,
    };
  }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
