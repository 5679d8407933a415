import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { type CedarValue, toCedarArguments, toCedarValue } from '../../../policy/context.js';
import { type PolicyDecision, policyDecision } from '../../../policy/decision.js';
import { DecisionCache } from '../../../policy/decision-cache.js';
import { loneSurrogatePath, loneSurrogateReason } from '../../../policy/lone-surrogates.js';
import type { GlobalPolicies } from './load.js';
import type { GatewayAction } from './schema.js';

/** An entity of a gateway request: its id and the attributes a policy may read. */
export interface PolicyEntity {
  readonly id: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** One question put to the global policies. */
export interface GatewayRequest {
  readonly action: GatewayAction;
  /** The agent: id is its did:key; attributes include name, tier, attestation_level and its declared ones. */
  readonly principal: PolicyEntity;
  readonly resource: PolicyEntity;
  readonly context: Readonly<Record<string, unknown>>;
}

const RESOURCE_TYPE: Record<GatewayAction, string> = {
  'sandbox/start': 'Sandbox',
  'tools/call': 'Tool',
  'context/read': 'Context',
  'context/write': 'Context',
  'network/fetch': 'Host',
  'models/call': 'Model',
  'a2a/message': 'Agent',
};

/**
 * The gateway's global policies (max sandboxes, attestation required, network
 * isolation, which agents may use which tools by their attributes). Same
 * rules as the tool-call engine: deny by default, forbid wins, and a policy
 * that fails to evaluate makes the request a deny naming that policy.
 */
export class GatewayPolicy {
  readonly #setId: string;
  readonly #prepareError: string | undefined;
  /** Whether any policy mentions `arguments`; if none does, they are left out of requests (and cache keys). */
  readonly #readsArguments: boolean;
  readonly #cache: DecisionCache;

  /** `cacheSize` identical requests' decisions are remembered (Cedar is deterministic); 0 turns it off. */
  constructor(
    readonly policies: GlobalPolicies,
    options: { readonly cacheSize?: number } = {},
  ) {
    this.#setId = `oacp-gateway-${policies.digest}`;
    const prepared = cedar.preparsePolicySet(this.#setId, { staticPolicies: policies.text });
    this.#prepareError =
      prepared.type === 'failure' ? prepared.errors.map((e) => e.message).join('; ') : undefined;
    this.#readsArguments = /\barguments\b/.test(policies.text);
    this.#cache = new DecisionCache(options.cacheSize ?? 4096);
  }

  /** How many decisions are remembered now. */
  get cachedDecisions(): number {
    return this.#cache.held;
  }

  decide(request: GatewayRequest): PolicyDecision {
    const effective =
      this.#readsArguments || request.context.arguments === undefined
        ? request
        : { ...request, context: withoutArguments(request.context) };
    // Plain JSON text is enough for a cache key: equal requests are built in the same member order,
    // and a key that differs only in order merely misses the cache. A long one (large arguments)
    // is not kept (decision-cache.ts).
    let key: string | undefined;
    try {
      key = this.#cache.capacity > 0 ? JSON.stringify(effective) : undefined;
    } catch {
      key = undefined;
    }
    return this.#cache.decide(key, () => this.#evaluate(effective));
  }

  #evaluate(request: GatewayRequest): PolicyDecision {
    const digest = this.policies.digest;
    if (this.#prepareError !== undefined) {
      return policyDecision('deny', `global policy set unusable: ${this.#prepareError}`, [], digest);
    }
    // The tool-call engine's check and words: Cedar cannot read a lone surrogate (policy/lone-surrogates.ts).
    const unreadable =
      loneSurrogatePath(request.context, 'context') ??
      loneSurrogatePath(request.principal, 'the principal') ??
      loneSurrogatePath(request.resource, 'the resource');
    if (unreadable !== undefined) return policyDecision('deny', loneSurrogateReason(unreadable), [], digest);
    const principal = { type: 'Agent', id: request.principal.id };
    const resource = { type: RESOURCE_TYPE[request.action], id: request.resource.id };
    let answer: cedar.AuthorizationAnswer;
    try {
      answer = cedar.statefulIsAuthorized({
        principal,
        action: { type: 'Action', id: request.action },
        resource,
        context: contextOf(request),
        preparsedPolicySetId: this.#setId,
        entities: [
          { uid: principal, attrs: attributesOf(request.principal.attributes), parents: [] },
          { uid: resource, attrs: attributesOf(request.resource.attributes), parents: [] },
        ],
      });
    } catch (error) {
      return policyDecision('deny', `global policy evaluation failed: ${message(error)}`, [], digest);
    }
    if (answer.type === 'failure') {
      return policyDecision(
        'deny',
        `global policy evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`,
        [],
        digest,
      );
    }
    const { decision, diagnostics } = answer.response;
    if (diagnostics.errors.length > 0) {
      const ids = diagnostics.errors.map((e) => this.#display(e.policyId));
      const why = diagnostics.errors
        .map((e) => `policy ${this.#display(e.policyId)}: ${e.error.message}`)
        .join('; ');
      return policyDecision(
        'deny',
        `global policy could not be evaluated, so ${request.action} is denied: ${why}`,
        ids,
        digest,
      );
    }
    const determining = diagnostics.reason.map((id) => this.#display(id));
    if (decision === 'allow')
      return policyDecision('allow', `permitted by ${list(determining)}`, determining, digest);
    if (determining.length > 0)
      return policyDecision('deny', `forbidden by ${list(determining)}`, determining, digest);
    return policyDecision(
      'deny',
      `no global policy permits ${request.action} by agent ${JSON.stringify(String(request.principal.attributes.name ?? request.principal.id))} on ${resource.type}::${JSON.stringify(resource.id)} (deny by default)`,
      [],
      digest,
    );
  }

  #display(cedarId: string): string {
    return this.policies.displayIds.get(cedarId) ?? cedarId;
  }
}

function withoutArguments(context: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { arguments: _unread, ...rest } = context;
  return rest;
}

function contextOf(request: GatewayRequest): Record<string, CedarValue> {
  const out: Record<string, CedarValue> = {};
  for (const [key, value] of Object.entries(request.context)) {
    if (value === undefined) continue;
    out[key] =
      key === 'arguments' && request.action === 'tools/call'
        ? toCedarArguments(value as Record<string, unknown>)
        : toCedarValue(value);
  }
  return out;
}

function attributesOf(attributes: Readonly<Record<string, unknown>>): Record<string, CedarValue> {
  const out: Record<string, CedarValue> = {};
  for (const [key, value] of Object.entries(attributes))
    if (value !== undefined) out[key] = toCedarValue(value);
  return out;
}

function list(ids: readonly string[]): string {
  return `${ids.length === 1 ? 'policy' : 'policies'} ${ids.join(', ')}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
