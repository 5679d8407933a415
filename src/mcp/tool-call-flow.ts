import { randomUUID } from 'node:crypto';
import type { SuppressedRefusals } from '../airlock/quota/refusal-limit.js';
import type { Decision } from '../core/decision.js';
import { sha256Hex } from '../core/digest.js';
import { jcsDigest } from '../core/jcs.js';
import type { NonceStore } from '../identity/nonce-store.js';
import type { GateParts, PriorChecks } from './call-gate.js';
import { decideCall, type PipelineVerdict } from './call-pipeline.js';
import {
  type ActiveCall,
  type CallRecorder,
  denialResult,
  type FinishedCall,
  RECEIPT_META,
} from './call-recorder.js';
import { recordedToolName } from './call-shape.js';
import type { ClientView } from './client-view.js';
import {
  INTERNAL_ERROR,
  INVALID_REQUEST,
  type JsonRpcError,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcResult,
} from './jsonrpc.js';
import type { MessageLimits } from './message-limits.js';
import { AGENT_REQUEST_META, resolvePrincipal } from './principal.js';
import { type PolicedRead, recordedReadName } from './read-requests.js';
import type { CallChecks } from './record.js';
import {
  type BridgeRefusalLimiter,
  MCP_SUPPRESSED_REFUSALS,
  type RefusedSubject,
  suppressedRecord,
  UNAUTHENTICATED,
  unreceiptedDenial,
} from './refusal-receipts.js';
import type { ServerIdentity } from './server-identity.js';
import type { UpstreamLink } from './upstream.js';

/** What the client (or, for its own requests, the server) is answered. */
export type Outcome = { readonly result: Record<string, unknown> } | { readonly error: JsonRpcErrorObject };

export function outcomeMessage(id: JsonRpcId, outcome: Outcome): JsonRpcResult | JsonRpcError {
  return 'result' in outcome
    ? { jsonrpc: '2.0', id, result: outcome.result }
    : { jsonrpc: '2.0', id, error: outcome.error };
}

export interface FlowParts {
  readonly gate: GateParts;
  readonly recorder: CallRecorder;
  readonly nonces: NonceStore;
  /** Held against every call's arguments (client calls were held to them whole already). */
  readonly limits: MessageLimits;
  readonly agent?: string;
  readonly client: ClientView;
  /** The server as it is now (the link changes with restarts). */
  server(): { readonly identity: ServerIdentity; readonly link: UpstreamLink | undefined };
  onReceiptFailed(callId: string, reason: string): void;
  /** Limits the receipts of refused client messages (see refusal-receipts.ts); without it, each gets one. */
  readonly refusals?: { readonly limiter: BridgeRefusalLimiter; readonly session: string };
}

/** An in-process caller (the gateway) that authenticated its agent itself; see SessionToolCalls.direct. */
export interface EmbeddedCaller {
  readonly agent: string;
  readonly prior?: PriorChecks;
  /** The caller's authentication refused the agent's proof: the identity step refuses with this reason. */
  readonly identityRefused?: string;
}

export type Decided = {
  readonly call: ActiveCall;
} & (
  | { readonly effect: 'allow'; readonly forwardedParams: Record<string, unknown> }
  | { readonly effect: 'deny' }
);

/**
 * The bridge's side of the tool-call pipeline: the checks are decideCall's
 * (the one ordered list, call-pipeline.ts); this builds the call's record
 * from its verdict and, after execution, writes exactly one receipt for every
 * outcome, refusals and failures included. An answer whose receipt could not
 * be written is withheld.
 */
export class ToolCallFlow {
  readonly #parts: FlowParts;
  /** Receipts being written, so closing waits for them (a refusal's receipt is written after its answer is decided). */
  readonly #writing = new Set<Promise<unknown>>();

  constructor(parts: FlowParts) {
    this.#parts = parts;
  }

  /** The principal of the session itself: the fixed agent, else the client by the name it gave. */
  sessionAgent(): string {
    return this.#parts.agent ?? `client:${this.#parts.client.name ?? 'anonymous'}`;
  }

  /** Undefined when the log can take a receipt now; else the deny that says why not. */
  reserve(): (Decision & { effect: 'deny' }) | undefined {
    try {
      this.#parts.recorder.reserve();
      return undefined;
    } catch (error) {
      return {
        effect: 'deny',
        reason: `no receipt can be written, so the call is refused: ${describe(error)}`,
      };
    }
  }

  /**
   * Right before `call` is sent: keeps its `interrupted` receipt until the real one is written
   * (ReceiptSink.intend). Undefined when kept (or nothing keeps intents); else the deny that says why.
   */
  intend(call: ActiveCall): (Decision & { effect: 'deny' }) | undefined {
    try {
      this.#parts.recorder.intend?.(call);
      return undefined;
    } catch (error) {
      return {
        effect: 'deny',
        reason: `the call's receipt could not be secured against a crash, so the call is refused: ${describe(error)}`,
      };
    }
  }

  /** Runs every check (decideCall, the one ordered list); the answer carries the call record either way. */
  async decide(
    params: Readonly<Record<string, unknown>> | undefined,
    signal: AbortSignal,
    embedded: EmbeddedCaller | undefined = undefined,
    method: 'tools/call' | PolicedRead = 'tools/call',
    /** Why the tool's listing cannot check the call (SessionToolCalls: not listed, listing failed). */
    unlisted: string | undefined = undefined,
  ): Promise<Decided> {
    const callId = randomUUID();
    const started = { startedAt: new Date(), startedMs: performance.now() };
    const server = this.#parts.server().identity.name;
    const verdict = await decideCall(params, {
      limits: this.#parts.limits,
      reserve: () => this.reserve(),
      identify: (shape) =>
        embedded?.identityRefused !== undefined
          ? { ok: false, reason: embedded.identityRefused }
          : resolvePrincipal({
              // An embedding caller (the gateway) authenticated its agent already; it passes no signature.
              fixedAgent: embedded?.agent ?? this.#parts.agent,
              clientName: this.#parts.client.name,
              tool: shape.tool,
              args: shape.arguments,
              meta: shape.meta,
              nonces: this.#parts.nonces,
            }),
      gate: this.#parts.gate,
      callId,
      server,
      channels: this.#parts.client.approvalChannels(),
      ...(embedded?.prior === undefined ? {} : { prior: embedded.prior }),
      signal,
      method,
      // The server may read names loosely (Go's encoding/json folds case): twins are refused.
      looseReader: true,
      listed: (tool) =>
        unlisted === undefined ? this.#parts.gate.listed?.of(tool) : { ok: false, reason: unlisted },
    });
    const call: ActiveCall = {
      ...this.#newCall(
        verdict.tool,
        verdict.arguments,
        verdict.agent ?? this.#unidentified(verdict, embedded),
        {
          ...(verdict.stage === 'checked' && verdict.signedRequest !== undefined
            ? { agentSignedRequest: verdict.signedRequest }
            : {}),
        },
      ),
      callId,
      ...started,
      decision: verdict.decision,
      checks: verdict.checks,
      ...(verdict.checks.policy === undefined ? {} : { policyDigest: verdict.checks.policy.policyDigest }),
    };
    if (verdict.stage === 'shape' || verdict.decision.effect === 'deny') return { effect: 'deny', call };
    const forwardedParams: Record<string, unknown> = { ...params };
    if (verdict.shape.meta !== undefined) {
      const { [AGENT_REQUEST_META]: _proof, ...rest } = verdict.shape.meta;
      forwardedParams._meta = rest;
    }
    return { effect: 'allow', call, forwardedParams };
  }

  /**
   * Who a call is recorded as when it has no verified principal: refused by
   * identity, or before it. An embedding caller names its agent even when its
   * proof was refused (a replay of that agent's genuine request).
   */
  #unidentified(verdict: PipelineVerdict, embedded: EmbeddedCaller | undefined): string {
    if (embedded !== undefined) return embedded.agent;
    const identityRefused = verdict.stage === 'checked' && verdict.checks.receiptSlot?.effect === 'allow';
    return identityRefused ? 'unverified' : this.sessionAgent();
  }

  /**
   * A tools/call refused before any other check (shape, limits): recorded, and answered as a
   * denial. Past the refusal receipt limits it is answered the same less its receipt, and counted.
   */
  async refuse(params: Readonly<Record<string, unknown>> | undefined, decision: Decision): Promise<Outcome> {
    if (!this.#receipted()) return { result: unreceiptedDenial(decision.reason) };
    return this.finishDenied(this.refusedCall(params, decision));
  }

  /**
   * Whether a refused client message gets its own receipt: always, unless the bridge limits them
   * (refusal-receipts.ts); when not, it is counted, and the count is recorded in one summary receipt.
   */
  #receipted(): boolean {
    const refusals = this.#parts.refusals;
    if (refusals === undefined) return true;
    const subject: RefusedSubject = {
      name: this.#parts.server().identity.name,
      record: (summary) => this.#recordSuppressed(summary),
    };
    return refusals.limiter.admit(subject, refusals.session);
  }

  /** The summary receipt of one window's refusals answered without a receipt of their own. */
  async #recordSuppressed(summary: SuppressedRefusals<RefusedSubject>): Promise<void> {
    const { reason, arguments: args } = suppressedRecord(summary);
    const call: ActiveCall = {
      ...this.#newCall(MCP_SUPPRESSED_REFUSALS, args, this.#parts.agent ?? UNAUTHENTICATED, {}),
      decision: { effect: 'deny', reason },
      checks: { shape: { effect: 'deny', reason } },
    };
    await this.finish({ call, outcome: 'denied' });
  }

  /**
   * A tools/call the client cancelled before any check ran (it waited for a
   * restarting server): never sent, and recorded as cancelled, not forwarded.
   */
  async cancelUnchecked(
    params: Readonly<Record<string, unknown>> | undefined,
    method: 'tools/call' | PolicedRead = 'tools/call',
  ): Promise<void> {
    const reason = 'cancelled by the client before its checks ran (its server was restarting); never sent';
    const call = this.refusedCall(params, { effect: 'deny', reason }, method);
    await this.finish({ call: { ...call, checks: {} }, outcome: 'cancelled', forwarded: false });
  }

  /** A tools/call sent as a notification: never forwarded, and recorded since no answer can carry a receipt. */
  async refuseNotification(params: Readonly<Record<string, unknown>> | undefined): Promise<void> {
    const reason =
      'tools/call sent as a notification (no id) is refused: it could not be answered with its receipt';
    if (!this.#receipted()) return;
    await this.finish({ call: this.refusedCall(params, { effect: 'deny', reason }), outcome: 'denied' });
  }

  /**
   * A request (or notification) of another method refused before forwarding:
   * recorded under `name` (see recorded-requests.ts) with its params as the
   * arguments. Undefined when no receipt could be written, or none was (past the refusal
   * receipt limits: counted for the summary receipt).
   */
  async refuseRequest(
    name: string,
    params: Readonly<Record<string, unknown>> | undefined,
    reason: string,
  ): Promise<Record<string, unknown> | undefined> {
    if (!this.#receipted()) return undefined;
    const call: ActiveCall = {
      ...this.#newCall(name, params ?? {}, this.sessionAgent(), {}),
      decision: { effect: 'deny', reason },
      checks: { shape: { effect: 'deny', reason } },
    };
    return this.finish({ call, outcome: 'denied' });
  }

  async finishDenied(call: ActiveCall): Promise<Outcome> {
    const receipt = await this.finish({ call, outcome: 'denied' });
    if (receipt === undefined) {
      return {
        error: {
          code: INTERNAL_ERROR,
          message: `call denied (${call.decision.reason}); its receipt could not be written`,
        },
      };
    }
    return { result: denialResult(call.decision.reason, receipt) };
  }

  /**
   * A refused policed read (resources/read, prompts/get, …): its result has no error form, so
   * the refusal is a JSON-RPC error whose `data` carries the receipt.
   */
  async finishDeniedRead(method: PolicedRead, call: ActiveCall): Promise<Outcome> {
    const receipt = await this.finish({ call, outcome: 'denied' });
    const message = `OACP refused ${method}: ${call.decision.reason}`;
    if (receipt === undefined) {
      return { error: { code: INTERNAL_ERROR, message: `${message}; its receipt could not be written` } };
    }
    return { error: { code: INVALID_REQUEST, message, data: { [RECEIPT_META]: receipt } } };
  }

  /** Writes the receipt; undefined (and a report) when the recorder failed. */
  finish(finished: FinishedCall): Promise<Record<string, unknown> | undefined> {
    const writing = this.#write(finished);
    this.#writing.add(writing);
    void writing.then(() => this.#writing.delete(writing));
    return writing;
  }

  /** Resolves once every receipt under way is written (or failed): the session waits for it before the log closes. */
  async drain(): Promise<void> {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing]);
  }

  async #write(finished: FinishedCall): Promise<Record<string, unknown> | undefined> {
    try {
      const ref = await this.#parts.recorder.finish(finished, this.#parts.server().link?.usage());
      return { ...ref };
    } catch (error) {
      this.#parts.onReceiptFailed(finished.call.callId, describe(error));
      return undefined;
    }
  }

  /** The server answered a forwarded call: receipt first, then the answer with its receipt, or nothing of it. */
  async answer(finished: FinishedCall, response: JsonRpcResult | JsonRpcError): Promise<Outcome> {
    const receipt = await this.finish(finished);
    if (receipt === undefined) {
      // Results without a receipt are withheld: every answer the agent acts on must be attested.
      return {
        error: {
          code: INTERNAL_ERROR,
          message: 'the tool ran but its receipt could not be written; result withheld',
        },
      };
    }
    if ('result' in response) {
      const meta = isRecord(response.result._meta) ? response.result._meta : {};
      return { result: { ...response.result, _meta: { ...meta, [RECEIPT_META]: receipt } } };
    }
    const data = response.error.data;
    const withReceipt =
      data === undefined || isRecord(data) ? { ...(data ?? {}), [RECEIPT_META]: receipt } : data;
    return { error: { ...response.error, data: withReceipt } };
  }

  /** The record of a server-to-client request (see decideServerRequest). */
  serverRequestCall(
    tool: string,
    params: Readonly<Record<string, unknown>>,
    verdict: { readonly decision: Decision; readonly checks: CallChecks },
  ): ActiveCall {
    return {
      ...this.#newCall(tool, params, this.sessionAgent(), {}),
      decision: verdict.decision,
      checks: verdict.checks,
    };
  }

  /** The client answered a server request: recorded, then passed on (withheld when unrecorded). */
  async finishServerRequest(call: ActiveCall, response: JsonRpcResult | JsonRpcError): Promise<Outcome> {
    const finished: FinishedCall =
      'result' in response
        ? { call, outcome: 'result', result: response.result }
        : { call, outcome: 'error', error: response.error };
    const receipt = await this.finish(finished);
    if (receipt === undefined) {
      return {
        error: {
          code: INTERNAL_ERROR,
          message: 'the client answered, but no receipt could be written; answer withheld',
        },
      };
    }
    return 'result' in response ? { result: response.result } : { error: response.error };
  }

  /** The record of a call (or policed read) refused before any check but its shape and limits. */
  refusedCall(
    params: Readonly<Record<string, unknown>> | undefined,
    decision: Decision,
    method: 'tools/call' | PolicedRead = 'tools/call',
  ): ActiveCall {
    const named =
      method === 'tools/call'
        ? { tool: recordedToolName(params?.name), args: params?.arguments ?? {} }
        : { tool: recordedReadName(method, params), args: params ?? {} };
    return {
      ...this.#newCall(named.tool, named.args, this.sessionAgent(), {}),
      decision,
      checks: { shape: { effect: decision.effect, reason: decision.reason } },
    };
  }

  #newCall(tool: string, args: unknown, agent: string, extra: { agentSignedRequest?: unknown }): ActiveCall {
    const { identity, link } = this.#parts.server();
    const usage = link?.usage();
    return {
      callId: randomUUID(),
      agent,
      ...extra,
      ...this.#parts.client.record(),
      server: identity,
      tier: link?.tier ?? 'unknown',
      tool,
      upstreamTool: tool,
      toolDefinitionDigest: this.#definitionDigest(tool),
      policyDigest: this.#policyDigest(),
      arguments: args,
      decision: { effect: 'deny', reason: 'not yet decided' },
      checks: {},
      startedAt: new Date(),
      startedMs: performance.now(),
      ...(usage === undefined ? {} : { usageAtStart: usage }),
    };
  }

  /** The digest of the policy in force; of nothing when there is none or it could not be built (the call is denied then). */
  #policyDigest(): string {
    try {
      return this.#parts.gate.policy?.policies.digest ?? sha256Hex('');
    } catch {
      return sha256Hex('');
    }
  }

  #definitionDigest(tool: string): string {
    return (
      this.#parts.gate.pins?.pinned(this.#parts.server().identity.name, tool) ?? jcsDigest({ name: tool })
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
