import { hash as oneShotHash } from 'node:crypto';
import type { Clock } from '../../airlock/quota/clock.js';
import {
  DEFAULT_REFUSAL_RECEIPT_LIMITS,
  RefusalReceiptLimiter,
  type RefusalReceiptLimits,
  type RefusalSubject,
  type SuppressedRefusals,
} from '../../airlock/quota/refusal-limit.js';
import { redactText } from '../../core/redact.js';
import type { NonceStore } from '../../identity/nonce-store.js';
import { verifySignedRequest } from '../../identity/signed-request.js';
import type { SecurityEventRepo } from '../../store/types.js';
import type { ApiKeyVerdict } from '../apikeys/api-keys.js';
import type { ApiScope } from '../apikeys/scopes.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { AgentDirectory, AgentRecord } from '../runtime/agent-directory.js';
import type { AuthClaim, AuthRefusal } from '../runtime/unauthenticated-call.js';
import { httpError } from './errors.js';

/** Who is calling, once authenticated. */
export type Principal =
  | {
      readonly kind: 'api-key';
      readonly keyId: string;
      readonly scopes: readonly ApiScope[];
      /** Set for an agent's own key: the key acts as that agent (did:key). */
      readonly agentId?: string;
    }
  /** An agent proved its key by signing the request; it may act only as itself. */
  | { readonly kind: 'agent'; readonly agent: AgentRecord };

/** ApiKeys (the store-backed key registry) is one. */
export interface ApiKeyAuthenticator {
  authenticate(presented: string): Promise<ApiKeyVerdict>;
  /** Why the key `id` no longer authenticates, or undefined while it is live. */
  revoked(id: string): Promise<string | undefined>;
}

export interface RequestFacts {
  readonly method: string;
  /** Path with query string, as signed. */
  readonly target: string;
  readonly authorization: string | undefined;
  readonly signedRequest: string | undefined;
  /** The request body, read (under the body limit) only for a signed request from a registered agent. */
  readonly readBody: () => Promise<Uint8Array>;
  /** The client's address (the socket's); refusals are limited per source. */
  readonly source?: string;
}

export interface AuthenticatorParts {
  readonly apiKeys: ApiKeyAuthenticator;
  readonly agents: AgentDirectory;
  readonly nonces: NonceStore;
  readonly metrics: GatewayMetrics;
  /** Where each refusal is recorded as an `auth_failed` security event (the store's table); metrics only when absent. */
  readonly securityEvents?: SecurityEventRepo;
  /** How long a verified API key is remembered (default 5 s): a revoked key may work that much longer unless invalidate() is called. */
  readonly cacheMs?: number;
  readonly now?: () => number;
  /**
   * Told of every refusal (the gateway records a tool call's with its receipt,
   * within its own limits: runtime/unauthenticated-call.ts). Its failure never
   * changes the 401.
   */
  readonly onRefused?: (refusal: AuthRefusal) => Promise<void>;
  /**
   * How many `auth_failed` rows each client address, and all together, may
   * add to the store per minute (oacp.yaml `a2a.refusal_receipts`): past them
   * a refusal is counted, and the count is recorded once per window as an
   * `auth_failed_suppressed` row naming the busiest sources.
   */
  readonly eventLimits?: RefusalReceiptLimits;
  readonly clock?: Clock;
}

const MAX_SIGNED_HEADER_BYTES = 4096;
const CACHE_LIMIT = 10_000;
const MAX_SUBJECT_CHARS = 256;
/** The source of a request that came over no socket (a test calling the app directly). */
const UNKNOWN_SOURCE = 'unknown';
const AUTH_FAILED: RefusalSubject = { name: 'auth_failed' };

/**
 * Authentication of every request: `Authorization: Bearer oacp_…` (a scoped
 * API key) or `OACP-Signed-Request` (an agent's Ed25519 signature over the
 * method, path and body, with the trust core's replay protection). A refusal
 * says why without repeating what was presented.
 */
export class Authenticator {
  private readonly cache = new Map<
    string,
    { keyId: string; scopes: readonly ApiScope[]; agentId: string | null; expires: number }
  >();
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly events: RefusalReceiptLimiter<RefusalSubject>;

  constructor(private readonly parts: AuthenticatorParts) {
    this.cacheMs = parts.cacheMs ?? 5000;
    this.now = parts.now ?? Date.now;
    this.events = new RefusalReceiptLimiter<RefusalSubject>(
      parts.eventLimits ?? DEFAULT_REFUSAL_RECEIPT_LIMITS,
      (summary) => this.suppressed(summary),
      parts.clock,
    );
  }

  /** Records the counts of refusals not recorded on their own, now (on close, before the store goes). */
  flush(): Promise<void> {
    return this.events.flushAll();
  }

  async authenticate(request: RequestFacts): Promise<Principal> {
    if (request.authorization !== undefined && request.signedRequest !== undefined) {
      throw await this.refuse(request, 'ambiguous', 'give either an API key or a signed request, not both');
    }
    if (request.signedRequest !== undefined) return this.agent(request);
    if (request.authorization !== undefined) return this.apiKey(request);
    throw await this.refuse(
      request,
      'missing',
      // No token shape here: the redactor would blank it, and the answer would read "Bearer [REDACTED]".
      'authentication required: an API key (Authorization: Bearer <key>, or x-api-key: <key>) or an OACP-Signed-Request header',
    );
  }

  /**
   * Why `principal`, authenticated when its request began, no longer would be (its API key
   * revoked, its agent retired), or undefined while it still holds: a response that goes on
   * (an event stream) asks again as it goes. A check that fails is a reason to stop.
   */
  async stillHolds(principal: Principal): Promise<string | undefined> {
    try {
      if (principal.kind === 'api-key') return await this.parts.apiKeys.revoked(principal.keyId);
      const agent = await this.parts.agents.get(principal.agent.id);
      if (agent === undefined || agent.state === 'retired') return `agent ${principal.agent.name} is retired`;
      return undefined;
    } catch (error) {
      return `cannot confirm the caller's credentials: ${redactText(error instanceof Error ? error.message : String(error))}`;
    }
  }

  /** Forget cached verdicts of a key (after revoking it). */
  invalidate(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.keyId === keyId) this.cache.delete(hash);
  }

  private async apiKey(request: RequestFacts): Promise<Principal> {
    const header = request.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined)
      throw await this.refuse(request, 'malformed', 'the Authorization header must be "Bearer <API key>"');
    const presented = match[1];
    // Keyed by a hash so the cache never holds a usable secret.
    // One-shot: about half the CPU of a Hash object for a key's few bytes, hashed on every request.
    const hash = oneShotHash('sha256', presented, 'base64url');
    const cached = this.cache.get(hash);
    const now = this.now();
    if (cached !== undefined && cached.expires > now) {
      return apiKeyPrincipal(cached.keyId, cached.scopes, cached.agentId);
    }
    const verdict = await this.parts.apiKeys.authenticate(presented);
    if (verdict.effect === 'deny')
      throw await this.refuse(
        request,
        'api_key_refused',
        verdict.reason,
        verdict.keyId === undefined ? undefined : { kind: 'api-key', keyId: verdict.keyId },
      );
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(hash, {
      keyId: verdict.keyId,
      scopes: verdict.scopes,
      agentId: verdict.agentId,
      expires: now + this.cacheMs,
    });
    return apiKeyPrincipal(verdict.keyId, verdict.scopes, verdict.agentId);
  }

  private async agent(request: RequestFacts): Promise<Principal> {
    const header = request.signedRequest ?? '';
    if (header.length > MAX_SIGNED_HEADER_BYTES)
      throw await this.refuse(request, 'malformed', 'the signed request header is too large');
    let signed: unknown;
    try {
      signed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    } catch {
      throw await this.refuse(
        request,
        'malformed',
        'OACP-Signed-Request must be the base64url of a JSON signed request',
      );
    }
    const signer = (signed as { signer?: unknown } | null)?.signer;
    if (typeof signer !== 'string')
      throw await this.refuse(request, 'malformed', 'the signed request names no signer');
    const agent = await this.parts.agents.get(signer);
    if (agent === undefined || agent.id !== signer)
      throw await this.refuse(request, 'unknown_agent', `no agent ${signer} is registered here`, {
        kind: 'did',
        // The caller's text: bounded, like the header, wherever it is recorded.
        did: signer.slice(0, MAX_SUBJECT_CHARS),
      });
    if (agent.state === 'retired')
      throw await this.refuse(request, 'retired_agent', `agent ${agent.name} is retired`, {
        kind: 'did',
        did: agent.id,
      });
    const payload = await request.readBody();
    const verdict = await verifySignedRequest(signed, {
      publicKey: agent.id,
      payload,
      purpose: `${request.method} ${request.target}`,
      nonces: this.parts.nonces,
    });
    if (!verdict.ok) {
      const replay = verdict.reason === 'replayed nonce';
      throw await this.refuse(
        request,
        replay ? 'replay' : 'bad_signature',
        replay
          ? 'signed request refused: replayed nonce (this exact request was already accepted once)'
          : `signed request refused: ${verdict.reason}`,
        // A replay's signature held: it is the agent's own request, sent again.
        { kind: 'agent', agent, verified: replay },
        payload,
      );
    }
    return { kind: 'agent', agent };
  }

  /**
   * Counts the refusal, records it in the store (within `eventLimits`), tells
   * `onRefused`, and builds the 401. The record names the key id or did when
   * known and never what was presented: `message` is built from ids only, and
   * is masked again in case a reason ever quotes a token.
   */
  private async refuse(
    request: RequestFacts,
    type: string,
    message: string,
    claim?: AuthClaim,
    /** The body, when it was read (a signed request's, which its signature covers). */
    body?: Uint8Array,
  ) {
    this.parts.metrics.security(type === 'replay' ? 'critical' : 'warning', `auth_${type}`);
    const source = request.source ?? UNKNOWN_SOURCE;
    if (this.events.admit(AUTH_FAILED, source)) {
      const subject =
        claim === undefined
          ? null
          : claim.kind === 'agent'
            ? claim.agent.id
            : claim.kind === 'did'
              ? claim.did
              : claim.keyId;
      // A did claimed by an unknown signer is the caller's text: bounded, like the header.
      await this.record(subject === null ? null : subject.slice(0, MAX_SUBJECT_CHARS), {
        type,
        reason: redactText(message),
      });
    }
    await this.parts
      .onRefused?.({
        reason: redactText(message),
        method: request.method,
        target: request.target,
        source,
        ...(claim === undefined ? {} : { claim }),
        ...(body === undefined ? {} : { body }),
      })
      .catch(() => this.parts.metrics.security('warning', 'auth_refusal_unrecorded'));
    return httpError('UNAUTHENTICATED', message);
  }

  /** One window's refusals past `eventLimits`: one row, with the busiest sources (the store is the operator's). */
  private async suppressed(summary: SuppressedRefusals<RefusalSubject>): Promise<void> {
    await this.record(
      null,
      {
        type: 'suppressed',
        count: summary.count,
        sources: summary.sources,
        top: summary.top,
        from: summary.from.toISOString(),
        to: summary.to.toISOString(),
      },
      'auth_failed_suppressed',
    );
  }

  private async record(subject: string | null, detail: object, kind = 'auth_failed'): Promise<void> {
    try {
      await this.parts.securityEvents?.append({
        at: new Date(this.now()).toISOString(),
        kind,
        subject,
        detail: JSON.stringify(detail),
      });
    } catch {
      // The request is refused either way; a store that cannot record it shows in the metric.
      this.parts.metrics.security('warning', 'auth_event_unrecorded');
    }
  }
}

function apiKeyPrincipal(keyId: string, scopes: readonly ApiScope[], agentId: string | null): Principal {
  return agentId === null ? { kind: 'api-key', keyId, scopes } : { kind: 'api-key', keyId, scopes, agentId };
}

/** The request purpose an agent signs: `METHOD /path?query` (docs/gateway.md). */
export function signedPurpose(method: string, target: string): string {
  return `${method.toUpperCase()} ${target}`;
}
