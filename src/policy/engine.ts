import type * as CedarTypes from '@cedar-policy/cedar-wasm/nodejs';
import { canonicalize } from '../core/jcs.js';
import { cedar } from './cedar.js';
import { toCedarArguments } from './context.js';
import { type PolicyDecision, policyDecision } from './decision.js';
import { DecisionCache } from './decision-cache.js';
import type { LoadedPolicies } from './load.js';
import { loneSurrogatePath, loneSurrogateReason } from './lone-surrogates.js';
import type { ToolCallRequest } from './request.js';

/**
 * Answers "may this agent call this tool with these arguments?" under one
 * loaded policy set. Deny by default, forbid wins, and a policy that fails to
 * evaluate (a missing argument, a type mismatch) makes the call a deny rather
 * than being skipped as Cedar itself would: skipping an erroring forbid fails open.
 */
export class PolicyEngine {
  readonly policies: LoadedPolicies;
  // Cedar caches parsed sets in wasm memory by name; the digest names the text
  // exactly, so two engines over the same text share one entry harmlessly.
  readonly #setId: string;
  // loadPolicies parsed this text already; a failure here means the wasm module
  // rejected it on a second look, and then every call is denied with the reason.
  readonly #prepareError: string | undefined;

  // A decision is reused for an identical request under the same policy text.
  readonly #cache: DecisionCache;

  /** `cacheSize` identical requests' decisions are remembered (0 turns the cache off). */
  constructor(policies: LoadedPolicies, options: { cacheSize?: number } = {}) {
    this.policies = policies;
    this.#cache = new DecisionCache(options.cacheSize ?? 1024);
    this.#setId = `oacp-${policies.digest}`;
    const prepared = cedar().preparsePolicySet(this.#setId, { staticPolicies: policies.text });
    this.#prepareError =
      prepared.type === 'failure' ? prepared.errors.map((e) => e.message).join('; ') : undefined;
  }

  authorize(request: ToolCallRequest): PolicyDecision {
    const key = this.#cache.capacity > 0 ? cacheKey(request) : undefined;
    return this.#cache.decide(key, () => this.#evaluate(request));
  }

  #evaluate(request: ToolCallRequest): PolicyDecision {
    const digest = this.policies.digest;
    if (this.#prepareError !== undefined) {
      return policyDecision('deny', `policy set unusable: ${this.#prepareError}`, [], digest);
    }
    const unreadable = unreadableText(request);
    if (unreadable !== undefined) return policyDecision('deny', loneSurrogateReason(unreadable), [], digest);
    let answer: CedarTypes.AuthorizationAnswer;
    try {
      answer = cedar().statefulIsAuthorized({
        principal: { type: 'Agent', id: request.agent },
        action: { type: 'Action', id: request.action ?? 'tools/call' },
        resource:
          request.action === undefined || request.action === 'tools/call'
            ? { type: 'Tool', id: request.tool }
            : (request.resource ?? { type: 'Server', id: request.server }),
        context: { server: request.server, arguments: toCedarArguments(request.arguments) },
        preparsedPolicySetId: this.#setId,
        entities: [],
      });
    } catch (error) {
      return policyDecision('deny', `policy evaluation failed: ${message(error)}`, [], digest);
    }
    if (answer.type === 'failure') {
      const why = answer.errors.map((e) => e.message).join('; ');
      return policyDecision('deny', `policy evaluation failed: ${why}`, [], digest);
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => ({
      id: this.#display(e.policyId),
      message: e.error.message,
    }));
    if (errors.length > 0) {
      const why = errors.map((e) => `policy ${e.id}: ${e.message}`).join('; ');
      return policyDecision(
        'deny',
        `policy could not be evaluated, so the call is denied: ${why}`,
        errors.map((e) => e.id),
        digest,
      );
    }
    const determining = diagnostics.reason.map((id) => this.#display(id));
    if (decision === 'allow') {
      return policyDecision('allow', `permitted by ${list(determining)}`, determining, digest);
    }
    if (determining.length > 0) {
      return policyDecision('deny', `forbidden by ${list(determining)}`, determining, digest);
    }
    if (request.resource !== undefined && request.action !== undefined && request.action !== 'tools/call') {
      return policyDecision(
        'deny',
        `no policy permits Agent ${JSON.stringify(request.agent)} to ${request.action} ${request.resource.type}::${JSON.stringify(request.resource.id)} on server ${JSON.stringify(request.server)} (deny by default)`,
        [],
        digest,
      );
    }
    if (request.action !== undefined && request.action !== 'tools/call') {
      return policyDecision(
        'deny',
        `no policy permits action ${JSON.stringify(request.action)} by server ${JSON.stringify(request.server)} towards Agent ${JSON.stringify(request.agent)} (deny by default)`,
        [],
        digest,
      );
    }
    return policyDecision(
      'deny',
      `no policy permits Agent ${JSON.stringify(request.agent)} to call tool ${JSON.stringify(request.tool)} on server ${JSON.stringify(request.server)} (deny by default)`,
      [],
      digest,
    );
  }

  #display(cedarId: string): string {
    return this.policies.displayIds.get(cedarId) ?? cedarId;
  }
}

function cacheKey(request: ToolCallRequest): string | undefined {
  try {
    return canonicalize([
      request.action ?? 'tools/call',
      request.resource?.type ?? null,
      request.resource?.id ?? null,
      request.agent,
      request.tool,
      request.server,
      request.arguments ?? {},
    ]);
  } catch {
    return undefined;
  }
}

function list(ids: readonly string[]): string {
  return `${ids.length === 1 ? 'policy' : 'policies'} ${ids.join(', ')}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The first part of `request` Cedar could not read (a lone surrogate), as a path; see lone-surrogates.ts. */
function unreadableText(request: ToolCallRequest): string | undefined {
  return (
    loneSurrogatePath(request.arguments ?? {}, 'arguments') ??
    loneSurrogatePath(request.tool, 'the tool name') ??
    loneSurrogatePath(request.agent, 'the agent') ??
    loneSurrogatePath(request.server, 'the server name') ??
    loneSurrogatePath(request.resource?.id, 'the resource')
  );
}
