import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { decideTool } from '../../capability/name-policy.js';
import { describeError } from '../../core/errors.js';
import { jcsDigest } from '../../core/jcs.js';
import type { PriorChecks } from '../../mcp/call-gate.js';
import { decideCall } from '../../mcp/call-pipeline.js';
import { DEFAULT_MESSAGE_LIMITS } from '../../mcp/message-limits.js';
import type { CallChecks, ToolCallRecord } from '../../mcp/record.js';
import type { ServerIdentity } from '../../mcp/server-identity.js';
import { combinedPolicyDigest } from '../../policy/combined-digest.js';
import { decidedBy } from '../../policy/decided-by.js';
import type { PolicyDecision } from '../../policy/decision.js';
import type { PolicyEngine } from '../../policy/engine.js';
import { InjectedSecrets } from '../credentials/injected-secrets.js';
import type { GatewayMetrics, ToolCallStatus } from '../observability/gateway-metrics.js';
import type { Tracing } from '../observability/tracing.js';
import type { AgentSignerLookup, ApiKeyRef, CallChannel, CallerAgent } from './caller.js';
import { RuntimeError, runtimeError } from './errors.js';
import type { GatewayPolicy } from './policy/gateway-policy.js';
import type { GatewayQuotas } from './quotas.js';
import type { ReceiptLink, ReceiptRecorder } from './receipt-recorder.js';
import type { ResolvedTool, ToolRegistry } from './tool-registry.js';
import { UNKNOWN_TOOL_LABEL, unknownTool, unknownToolReason } from './tool-unknown.js';

export interface ToolCallInput {
  readonly tool: string;
  readonly arguments: unknown;
  readonly agent: CallerAgent;
  readonly channel: CallChannel;
  readonly apiKey?: ApiKeyRef;
  readonly parent?: Span;
  readonly signal?: AbortSignal;
  /**
   * Set when authentication already refused the caller's proof (a replayed
   * signed request): the call goes through the pipeline only to be refused at
   * its identity step, and recorded. Native tools only.
   */
  readonly identityRefused?: string;
}

export interface ToolCallOutcome {
  readonly result: unknown;
  /** True when the tool reported an error in its result (MCP `isError`). */
  readonly isError: boolean;
  readonly receipt: ReceiptLink;
}

export interface ToolCallerParts {
  readonly registry: ToolRegistry;
  readonly toolPolicy: PolicyEngine;
  readonly globalPolicy: GatewayPolicy;
  readonly quotas: GatewayQuotas;
  readonly receipts: ReceiptRecorder;
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing;
  readonly signerOf: AgentSignerLookup;
  /** attestation.level is standard or full: receipts of calls the agent made carry its signature too. */
  readonly coSign: boolean;
  /** Where native tools get their credentials (the credential vault); none when absent. */
  readonly credentials?: { resolveForCall(agentId: string, toolName: string): Promise<InjectedSecrets> };
}

/** How native tool calls name their "server" in receipts: the gateway process itself. */
const NATIVE_IDENTITY: ServerIdentity = { name: 'native', command: 'oacp-gateway', args: ['native-tools'] };

const NO_USAGE = {
  wallMs: 0,
  cpuMs: 0,
  memoryPeakBytes: 0,
  egressRequests: 0,
  egressDenied: 0,
  outputBytes: 0,
};

/**
 * Every tool call, from an agent's sandbox or over HTTP, goes through here,
 * and is decided by decideCall (src/mcp/call-pipeline.ts), the one ordered
 * list of checks: the gateway only supplies its own (the manifest's tools
 * list, the Cedar tool-call and global policies as one decision, quotas) as
 * prior checks. Native tools are decided here and receipted here, every
 * outcome, refusals included, in the log before the caller hears back; MCP
 * tools are decided and receipted by the bridge's session, with the same
 * prior checks joined in.
 */
export class ToolCaller {
  /** Handed to tools called without a caller's signal (an agent's sandbox): nothing aborts it. */
  private readonly never = new AbortController().signal;

  constructor(private readonly parts: ToolCallerParts) {}

  async call(input: ToolCallInput): Promise<ToolCallOutcome> {
    const registered = this.parts.registry.resolve(input.tool);
    // An unregistered name goes through the pipeline too, refused at its tools-list step with a receipt.
    const entry = registered ?? unknownTool(input.tool, this.parts.registry);
    const label = registered === undefined ? UNKNOWN_TOOL_LABEL : entry.name;
    return this.parts.tracing.inSpan(
      `tool ${label}`,
      input.parent,
      { 'oacp.tool': entry.name, 'oacp.agent': input.agent.name, 'oacp.server': entry.server },
      async (span) => {
        const started = performance.now();
        let status: ToolCallStatus = 'error';
        try {
          const known = registered !== undefined;
          const outcome =
            entry.kind === 'native'
              ? await this.callNative(entry, input, known)
              : await this.callMcp(entry, input, span, known);
          status = outcome.isError ? 'error' : 'ok';
          span.setAttribute('oacp.receipt.index', outcome.receipt.index);
          return outcome;
        } catch (error) {
          status = statusOf(error);
          throw error;
        } finally {
          this.parts.metrics.toolCalls.inc({ tool: label, agent: input.agent.name, status });
          this.parts.metrics.toolCallDuration.observe({ tool: label }, (performance.now() - started) / 1000);
        }
      },
    );
  }

  /**
   * A native tool through decideCall, the one ordered list of checks (shape
   * and limits with the tool's own schema, the receipt slot, identity, then
   * the gateway's tools list, tool-call and global policies as one decision,
   * and quotas), then the tool, then exactly one receipt, whatever the outcome.
   */
  private async callNative(
    entry: Extract<ResolvedTool, { kind: 'native' }>,
    input: ToolCallInput,
    known: boolean,
  ): Promise<ToolCallOutcome> {
    const startedAt = new Date();
    const startedMs = performance.now();
    let quotaRefusal: RuntimeError | undefined;
    let parsedArgs: unknown;
    const verdict = await decideCall(
      { name: entry.name, arguments: input.arguments },
      {
        limits: DEFAULT_MESSAGE_LIMITS,
        validate: (args) => {
          // Refused before the pipeline: the refusal that happened first is the one recorded.
          if (input.identityRefused !== undefined) return undefined;
          const parsed = entry.tool.parse(args);
          if (!parsed.ok) return `arguments of tool "${entry.name}" are invalid: ${parsed.reason}`;
          parsedArgs = parsed.value;
          return undefined;
        },
        reserve: () => {
          // No tool runs, and no side effect happens, while its receipt could not be written.
          this.parts.receipts.reserve();
          return undefined;
        },
        // Authenticated before the call reached here: by the sandbox it runs in, or the HTTP layer.
        identify: () =>
          input.identityRefused === undefined
            ? { ok: true, id: input.agent.did, verified: agentMade(input.channel), ownBucket: true }
            : { ok: false, reason: input.identityRefused },
        gate: {},
        callId: randomUUID(),
        server: NATIVE_IDENTITY.name,
        channels: {},
        prior: this.priorChecks(entry, input, known, (refusal) => {
          quotaRefusal = refusal;
        }),
        // No signal: this gate asks nobody for approval, so no check waits on the caller.
      },
    );
    const base = this.record(entry, input, verdict.arguments, verdict.checks, startedAt);
    if (verdict.decision.effect === 'deny') {
      const refusal = refusalOf(verdict.checks, verdict.decision.reason, {
        quotaRefusal,
        metrics: this.parts.metrics,
        known,
        identityRefused: input.identityRefused !== undefined,
      });
      const receipt = await this.write(
        { ...base, decision: verdict.decision, outcome: 'denied', durationMs: performance.now() - startedMs },
        input,
      );
      // The refusal stands either way; it carries its receipt when the log could take one.
      throw receipt === undefined ? refusal : refusal.withReceipt(receipt);
    }

    try {
      this.parts.receipts.intendToolCall({
        ...base,
        decision: verdict.decision,
        outcome: 'interrupted',
        forwarded: true,
        durationMs: 0,
      });
    } catch (error) {
      const reason = `the call's receipt could not be secured against a crash, so the call is refused: ${describeError(error)}`;
      const receipt = await this.write(
        {
          ...base,
          decision: { effect: 'deny', reason },
          outcome: 'denied',
          durationMs: performance.now() - startedMs,
        },
        input,
      );
      const refusal = runtimeError('RUNTIME_RECEIPT_UNAVAILABLE', reason);
      throw receipt === undefined ? refusal : refusal.withReceipt(receipt);
    }

    let result: unknown;
    let resultDigest: string | undefined;
    let failure: unknown;
    // The secrets this call was handed: a tool's error may quote one (a client library echoing a
    // refused token), and no pattern knows a vault value, so the failure is redacted of them by value.
    let handed = new InjectedSecrets([]);
    try {
      const never = this.never;
      result = await entry.tool.run(parsedArgs, {
        agent: { name: input.agent.name, did: input.agent.did },
        // Read only by a tool that wants it: an HTTP request's signal is made on first use (see routes-tools.ts).
        get signal() {
          return input.signal ?? never;
        },
        chargeTokens: (tokens) => this.parts.quotas.chargeTokens(input.agent, input.agent.manifest, tokens),
        credentials: async () => {
          const secrets = await this.parts.credentials?.resolveForCall(input.agent.did, entry.name);
          if (secrets !== undefined) handed = secrets;
          return handed;
        },
      });
      // A result that is not JSON cannot be digested into the receipt: that is the tool's failure.
      resultDigest = jcsDigest(result ?? null);
    } catch (error) {
      failure = error;
    }
    const durationMs = performance.now() - startedMs;
    const failureText = failure === undefined ? '' : handed.redact(describeError(failure));
    const finished: ToolCallRecord =
      failure === undefined
        ? {
            ...base,
            decision: verdict.decision,
            outcome: 'result',
            ...(resultDigest === undefined ? {} : { resultDigest }),
            isError: false,
            durationMs,
          }
        : {
            ...base,
            decision: verdict.decision,
            outcome: 'error',
            error: { code: -32000, message: failureText },
            durationMs,
          };
    const receipt = await this.write(finished, input);
    if (receipt === undefined) {
      // Every answer the agent acts on must be attested: the result is withheld.
      throw runtimeError(
        'RUNTIME_RECEIPT_UNAVAILABLE',
        `tool "${entry.name}" ran but its receipt could not be written; result withheld`,
      );
    }
    if (failure !== undefined) {
      if (failure instanceof RuntimeError) {
        // Its own code and details, its message redacted like the receipt's (the cause is dropped: it may quote a secret).
        throw new RuntimeError(failure.code, handed.redact(failure.message), { ...failure.details, receipt });
      }
      throw new RuntimeError('RUNTIME_TOOL_FAILED', `tool "${entry.name}" failed: ${failureText}`, {
        receipt,
      });
    }
    return { result: result ?? null, isError: false, receipt };
  }

  /**
   * MCP tools go through the bridge's pipeline directly: the gateway's checks
   * (manifest tools list, tool-call and global policies, quotas) are handed to
   * it and joined with the bridge's own (shape and limits, receipt slot, pins,
   * its Cedar policy, approval, call quota) into one decision, and the bridge
   * writes the one receipt, naming every policy that decided.
   */
  private async callMcp(
    entry: Extract<ResolvedTool, { kind: 'mcp' }>,
    input: ToolCallInput,
    span: Span,
    known: boolean,
  ): Promise<ToolCallOutcome> {
    let quotaRefusal: RuntimeError | undefined;
    const prior = this.priorChecks(entry, input, known, (refusal) => {
      quotaRefusal = refusal;
    });
    span.addEvent('into the MCP bridge pipeline');
    const answer = await entry.source.call(
      entry.upstreamName,
      input.arguments,
      { did: input.agent.did, name: input.agent.name },
      {
        prior,
        ...(input.identityRefused === undefined ? {} : { identityRefused: input.identityRefused }),
        ...(input.signal === undefined ? {} : { signal: input.signal }),
      },
    );
    if (answer.receipt === undefined) {
      throw runtimeError(
        'RUNTIME_RECEIPT_UNAVAILABLE',
        `no receipt could be written for "${entry.name}": ${answer.error?.message ?? answer.decision.reason}`,
      );
    }
    this.parts.metrics.attestations.inc({ agent: input.agent.name });
    if (answer.decision.effect === 'deny') {
      throw refusalOf(answer.checks, answer.decision.reason, {
        quotaRefusal,
        metrics: this.parts.metrics,
        known,
        identityRefused: input.identityRefused !== undefined,
      }).withReceipt(answer.receipt);
    }
    if (answer.result === undefined) {
      throw new RuntimeError(
        'RUNTIME_TOOL_FAILED',
        `tool "${entry.name}" failed: ${answer.error?.message ?? 'no result'}`,
        { receipt: answer.receipt },
      );
    }
    return { result: answer.result, isError: answer.isError, receipt: answer.receipt };
  }

  /**
   * The gateway's own checks, handed to decideCall, which runs them in its
   * order with everything else: the manifest's tools list, the tool-call and
   * global policies (one decision), the quotas (taken only once all else allowed).
   */
  private priorChecks(
    entry: ResolvedTool,
    input: ToolCallInput,
    known: boolean,
    quotaRefused: (refusal: RuntimeError) => void,
  ): PriorChecks {
    return {
      tools: known
        ? decideTool(input.agent.manifest.capabilities.tools, entry.name)
        : { effect: 'deny', reason: unknownToolReason(entry.name) },
      policy: (args) => this.policy(entry, input, args),
      quota: async () => {
        try {
          await this.parts.quotas.admitToolCall({
            agent: input.agent,
            manifest: input.agent.manifest,
            tool: entry.name,
            ...(entry.kind === 'mcp' ? { server: entry.server } : {}),
            ...(input.apiKey === undefined ? {} : { apiKey: input.apiKey }),
          });
          return { effect: 'allow', reason: 'within quota' };
        } catch (error) {
          if (!(error instanceof RuntimeError)) throw error;
          quotaRefused(error);
          return { effect: 'deny', reason: error.message };
        }
      },
    };
  }

  /** The tool-call policy and the global policies together; both must allow. */
  private policy(
    entry: ResolvedTool,
    input: ToolCallInput,
    args: Readonly<Record<string, unknown>>,
  ): NonNullable<CallChecks['policy']> {
    const tool: PolicyDecision = this.parts.toolPolicy.authorize({
      agent: input.agent.did,
      tool: entry.kind === 'native' ? entry.name : entry.upstreamName,
      server: entry.server,
      arguments: args,
    });
    const global = this.parts.globalPolicy.decide({
      action: 'tools/call',
      principal: {
        id: input.agent.did,
        attributes: {
          ...input.agent.attributes,
          name: input.agent.name,
          tier: 'standard',
          attestation_level: this.coSigns(input) ? 2 : 1,
        },
      },
      resource: { id: entry.name, attributes: { ...entry.attributes, server: entry.server } },
      context: { server: entry.server, signed: agentMade(input.channel), arguments: args },
    });
    const policyDigest = combinedPolicyDigest(tool.policyDigest, global.policyDigest);
    if (tool.effect === 'deny')
      return { effect: 'deny', reason: tool.reason, policyIds: tool.policyIds, policyDigest };
    if (global.effect === 'deny') {
      return {
        effect: 'deny',
        reason: `global policy: ${global.reason}`,
        policyIds: global.policyIds,
        policyDigest,
      };
    }
    return {
      effect: 'allow',
      reason: `${tool.reason}; global: ${global.reason}`,
      policyIds: decidedBy(tool.policyIds, global.policyIds),
      policyDigest,
    };
  }

  private record(
    entry: ResolvedTool,
    input: ToolCallInput,
    args: unknown,
    checks: CallChecks,
    startedAt: Date,
  ): Omit<ToolCallRecord, 'decision' | 'outcome' | 'durationMs'> {
    return {
      callId: randomUUID(),
      server:
        // An unregistered name is recorded under the `unknown` server (see tool-unknown.ts).
        entry.kind === 'native'
          ? { ...NATIVE_IDENTITY, name: entry.server }
          : { name: entry.server, command: `mcp:${entry.server}` },
      // Native tools run in the gateway's own process: no isolation, which `light` records.
      tier: 'light',
      agent: input.agent.did,
      ...(input.apiKey === undefined ? {} : { client: { name: `apikey:${input.apiKey.id}`, version: '1' } }),
      tool: entry.name,
      upstreamTool: entry.kind === 'native' ? entry.name : entry.upstreamName,
      toolDefinitionDigest: entry.definitionDigest,
      policyDigest: checks.policy?.policyDigest ?? this.parts.toolPolicy.policies.digest,
      argumentsDigest: safeDigest(args),
      checks,
      startedAt: startedAt.toISOString(),
      usage: NO_USAGE,
    };
  }

  /** Writes a native call's receipt; undefined when the log could not take it. */
  private async write(record: ToolCallRecord, input: ToolCallInput): Promise<ReceiptLink | undefined> {
    try {
      return await this.parts.receipts.toolCall(record, input.agent.name, await this.coSigner(input));
    } catch {
      this.parts.metrics.security('critical', 'receipt_unwritten');
      return undefined;
    }
  }

  /** Calls the agent itself made are co-signed with its key when attestation is `standard` or above. */
  private coSigns(input: ToolCallInput): boolean {
    return this.parts.coSign && agentMade(input.channel);
  }

  private async coSigner(input: ToolCallInput) {
    return this.coSigns(input) ? this.parts.signerOf(input.agent.did) : undefined;
  }
}

export { combinedPolicyDigest } from '../../policy/combined-digest.js';

/** A call the agent itself made (its sandbox, or its signature that verified). */
function agentMade(channel: CallChannel): boolean {
  return channel === 'sandbox' || channel === 'signed-request';
}

function statusOf(error: unknown): ToolCallStatus {
  if (!(error instanceof RuntimeError)) return 'error';
  if (error.code === 'RUNTIME_QUOTA_EXCEEDED') return 'quota';
  if (error.code === 'RUNTIME_TOOL_DENIED' || error.code === 'RUNTIME_POLICY_DENIED') return 'denied';
  return 'error';
}

/** The digest of the arguments as given; a value JCS cannot take (a function, a cycle) digests as its description. */
function safeDigest(value: unknown): string {
  try {
    return jcsDigest(value ?? null);
  } catch (error) {
    return jcsDigest({ undigestible: describeError(error) });
  }
}

/** The gateway error for a refusal by the pipeline, by the check that refused. */
function refusalOf(
  checks: CallChecks,
  reason: string,
  context: {
    readonly quotaRefusal: RuntimeError | undefined;
    readonly metrics: GatewayMetrics;
    /** False for a name no tool is registered under. */
    readonly known: boolean;
    /** Authentication had refused the caller's proof (a replay). */
    readonly identityRefused: boolean;
  },
): RuntimeError {
  const { quotaRefusal, metrics } = context;
  if (checks.shape?.effect === 'deny') return runtimeError('RUNTIME_TOOL_ARGUMENTS', reason);
  if (checks.receiptSlot?.effect === 'deny') return runtimeError('RUNTIME_RECEIPT_UNAVAILABLE', reason);
  // Refused after the receipt slot and before the first gate check: the identity step.
  if (context.identityRefused && checks.pin === undefined && checks.tools === undefined)
    return runtimeError('RUNTIME_IDENTITY_REFUSED', reason);
  if (checks.quota?.effect === 'deny') {
    metrics.security('info', 'quota_exceeded');
    return quotaRefusal ?? runtimeError('RUNTIME_QUOTA_EXCEEDED', reason);
  }
  if (checks.tools?.effect === 'deny') {
    if (!context.known) return runtimeError('RUNTIME_TOOL_UNKNOWN', reason);
    metrics.security('warning', 'tool_denied');
    return runtimeError('RUNTIME_TOOL_DENIED', reason);
  }
  metrics.security('warning', 'policy_denied');
  return runtimeError('RUNTIME_POLICY_DENIED', reason);
}
