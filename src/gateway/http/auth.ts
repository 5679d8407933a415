import { createHash } from 'node:crypto';
import { redactText } from '../../core/redact.js';
import type { NonceStore } from '../../identity/nonce-store.js';
import { verifySignedRequest } from '../../identity/signed-request.js';
import type { SecurityEventRepo } from '../../store/types.js';
import type { ApiKeyVerdict } from '../apikeys/api-keys.js';
import type { ApiScope } from '../apikeys/scopes.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { AgentDirectory, AgentRecord } from '../runtime/agent-directory.js';
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
}

export interface RequestFacts {
  readonly method: string;
  /** Path with query string, as signed. */
  readonly target: string;
  readonly authorization: string | undefined;
  readonly signedRequest: string | undefined;
  /** The request body, read (under the body limit) only for a signed request from a registered agent. */
  readonly readBody: () => Promise<Uint8Array>;
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
   * Told of a genuine signed request refused as a replay (the signature
   * verified, the nonce was seen): the gateway records a tool call's replay
   * as a refused call with its receipt. Its failure never changes the 401.
   */
  readonly onReplay?: (replay: {
    readonly agent: AgentRecord;
    readonly method: string;
    readonly target: string;
    readonly body: Uint8Array;
  }) => Promise<void>;
}

const MAX_SIGNED_HEADER_BYTES = 4096;
const CACHE_LIMIT = 10_000;
const MAX_SUBJECT_CHARS = 256;

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

  constructor(private readonly parts: AuthenticatorParts) {
    this.cacheMs = parts.cacheMs ?? 5000;
    this.now = parts.now ?? Date.now;
  }

  async authenticate(request: RequestFacts): Promise<Principal> {
    if (request.authorization !== undefined && request.signedRequest !== undefined) {
      throw await this.refuse('ambiguous', 'give either an API key or a signed request, not both');
    }
    if (request.signedRequest !== undefined) return this.agent(request);
    if (request.authorization !== undefined) return this.apiKey(request.authorization);
    throw await this.refuse(
      'missing',
      // No token shape here: the redactor would blank it, and the answer would read "Bearer [REDACTED]".
      'authentication required: an API key (Authorization: Bearer <key>, or x-api-key: <key>) or an OACP-Signed-Request header',
    );
  }

  /** Forget cached verdicts of a key (after revoking it). */
  invalidate(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.keyId === keyId) this.cache.delete(hash);
  }

  private async apiKey(header: string): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined)
      throw await this.refuse('malformed', 'the Authorization header must be "Bearer <API key>"');
    const presented = match[1];
    // Keyed by a hash so the cache never holds a usable secret.
    const hash = createHash('sha256').update(presented).digest('base64url');
    const cached = this.cache.get(hash);
    const now = this.now();
    if (cached !== undefined && cached.expires > now) {
      return apiKeyPrincipal(cached.keyId, cached.scopes, cached.agentId);
    }
    const verdict = await this.parts.apiKeys.authenticate(presented);
    if (verdict.effect === 'deny')
      throw await this.refuse('api_key_refused', verdict.reason, verdict.keyId ?? null);
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
      throw await this.refuse('malformed', 'the signed request header is too large');
    let signed: unknown;
    try {
      signed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    } catch {
      throw await this.refuse(
        'malformed',
        'OACP-Signed-Request must be the base64url of a JSON signed request',
      );
    }
    const signer = (signed as { signer?: unknown } | null)?.signer;
    if (typeof signer !== 'string')
      throw await this.refuse('malformed', 'the signed request names no signer');
    const agent = await this.parts.agents.get(signer);
    if (agent === undefined || agent.id !== signer)
      throw await this.refuse('unknown_agent', `no agent ${signer} is registered here`, signer);
    if (agent.state === 'retired')
      throw await this.refuse('retired_agent', `agent ${agent.name} is retired`, agent.id);
    const payload = await request.readBody();
    const verdict = await verifySignedRequest(signed, {
      publicKey: agent.id,
      payload,
      purpose: `${request.method} ${request.target}`,
      nonces: this.parts.nonces,
    });
    if (!verdict.ok) {
      if (verdict.reason === 'replayed nonce') {
        await this.parts
          .onReplay?.({ agent, method: request.method, target: request.target, body: payload })
          .catch(() => this.parts.metrics.security('warning', 'replay_unrecorded'));
      }
      throw await this.refuse(
        verdict.reason === 'replayed nonce' ? 'replay' : 'bad_signature',
        `signed request refused: ${verdict.reason}`,
        agent.id,
      );
    }
    return { kind: 'agent', agent };
  }

  /**
   * Counts the refusal, records it in the store, and builds the 401. The
   * record names the key id or did when known and never what was presented:
   * `message` is built from ids only, and is masked again in case a reason
   * ever quotes a token.
   */
  private async refuse(type: string, message: string, subject: string | null = null) {
    this.parts.metrics.security(type === 'replay' ? 'critical' : 'warning', `auth_${type}`);
    try {
      await this.parts.securityEvents?.append({
        at: new Date(this.now()).toISOString(),
        kind: 'auth_failed',
        // A did claimed by an unknown signer is the caller's text: bounded, like the header.
        subject: subject === null ? null : subject.slice(0, MAX_SUBJECT_CHARS),
        detail: JSON.stringify({ type, reason: redactText(message) }),
      });
    } catch {
      // The request is refused either way; a store that cannot record it shows in the metric.
      this.parts.metrics.security('warning', 'auth_event_unrecorded');
    }
    return httpError('UNAUTHENTICATED', message);
  }
}

function apiKeyPrincipal(keyId: string, scopes: readonly ApiScope[], agentId: string | null): Principal {
  return agentId === null ? { kind: 'api-key', keyId, scopes } : { kind: 'api-key', keyId, scopes, agentId };
}

/** The request purpose an agent signs: `METHOD /path?query` (docs/gateway.md). */
export function signedPurpose(method: string, target: string): string {
  return `${method.toUpperCase()} ${target}`;
}
