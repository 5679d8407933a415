import { z } from 'zod';
import { OacpError } from '../../core/errors.js';
import { isDidKey } from '../../identity/did-key.js';
import type { Store } from '../../store/index.js';
import type { ApiKeyErrorCode } from './errors.js';
import { hashSecret, newKey, newSalt, parseKey, secretMatches } from './key-format.js';
import { type ApiScope, ApiScopeSchema, scopeGranted } from './scopes.js';

/** A Decision (effect + reason) carrying, when allowed, who the caller is and what it may do. */
export type ApiKeyVerdict =
  | {
      readonly effect: 'allow';
      readonly reason: string;
      readonly keyId: string;
      readonly scopes: readonly ApiScope[];
      readonly label: string | null;
      /** The agent this key acts as, when it is an agent's key. */
      readonly agentId: string | null;
    }
  | { readonly effect: 'deny'; readonly reason: string; readonly keyId?: string };

export interface ApiKeyInfo {
  readonly id: string;
  readonly scopes: readonly ApiScope[];
  readonly label: string | null;
  readonly agentId: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** `oacp_<id>_<secret>`: shown once, never stored, never retrievable again. */
  readonly key: string;
}

const StoredScopes = z.array(ApiScopeSchema);
const DUMMY_SALT = new Uint8Array(16);
const DUMMY_HASH = hashSecret(DUMMY_SALT, 'x');

/**
 * API keys for the gateway's HTTP API: created with scopes, shown once,
 * stored as a salted SHA-256 hash, revocable. authenticate() answers with a
 * verdict and a reason (malformed, unknown id, wrong secret, revoked) and
 * never echoes the presented secret.
 */
export class ApiKeys {
  readonly #store: Store;
  readonly #now: () => Date;

  constructor(options: { readonly store: Store; readonly now?: () => Date }) {
    this.#store = options.store;
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: {
    readonly scopes: readonly string[];
    readonly label?: string;
    /** Binds the key to one agent (its did:key): it then authenticates as that agent, e.g. for its model SDK. */
    readonly agentId?: string;
  }): Promise<CreatedApiKey> {
    const scopes = parseScopes(input.scopes);
    const label = input.label ?? null;
    const agentId = input.agentId ?? null;
    if (agentId !== null && !isDidKey(agentId)) {
      throw new OacpError<ApiKeyErrorCode>(
        'APIKEY_AGENT_INVALID',
        'an agent key is bound to an agent by its did:key',
      );
    }
    if (label !== null && !/^[\x20-\x7e]{1,100}$/.test(label)) {
      throw new OacpError<ApiKeyErrorCode>(
        'APIKEY_LABEL_INVALID',
        'a key label is 1-100 printable ASCII characters',
      );
    }
    const { id, secret, presented } = newKey();
    const salt = newSalt();
    const createdAt = this.#now().toISOString();
    await this.#store.transaction(async (tx) => {
      await tx.apiKeys.insert({
        id,
        salt,
        hash: hashSecret(salt, secret),
        scopes: JSON.stringify(scopes),
        label,
        createdAt,
        revokedAt: null,
        agentId,
      });
      await tx.securityEvents.append({
        at: createdAt,
        kind: 'apikey.created',
        subject: id,
        detail: JSON.stringify({ scopes, label, ...(agentId === null ? {} : { agentId }) }),
      });
    });
    return { id, key: presented, scopes, label, agentId, createdAt, revokedAt: null };
  }

  async authenticate(presented: string): Promise<ApiKeyVerdict> {
    const parsed = parseKey(presented.trim());
    if (parsed === undefined) {
      return { effect: 'deny', reason: 'malformed API key: expected oacp_<16 hex id>_<secret>' };
    }
    const row = await this.#store.apiKeys.get(parsed.id);
    if (row === undefined) {
      // Same work as a real check, so response time does not say whether an id exists.
      secretMatches(DUMMY_SALT, parsed.secret, DUMMY_HASH);
      return { effect: 'deny', reason: `unknown API key id ${parsed.id}`, keyId: parsed.id };
    }
    if (!secretMatches(row.salt, parsed.secret, row.hash)) {
      return { effect: 'deny', reason: `wrong secret for API key ${parsed.id}`, keyId: parsed.id };
    }
    // Revocation is told only to a caller who proved the secret.
    if (row.revokedAt !== null) {
      return {
        effect: 'deny',
        reason: `API key ${parsed.id} was revoked at ${row.revokedAt}`,
        keyId: parsed.id,
      };
    }
    const scopes = readScopes(row.scopes);
    if (scopes === undefined) {
      return {
        effect: 'deny',
        reason: `API key ${parsed.id} has unreadable scopes in the store`,
        keyId: parsed.id,
      };
    }
    return {
      effect: 'allow',
      reason: `API key ${parsed.id}`,
      keyId: parsed.id,
      scopes,
      label: row.label,
      agentId: row.agentId ?? null,
    };
  }

  /** Whether an authenticated caller holds `scope`; a denied verdict stays denied. */
  authorize(verdict: ApiKeyVerdict, scope: ApiScope): ApiKeyVerdict {
    if (verdict.effect === 'deny') return verdict;
    if (scopeGranted(verdict.scopes, scope)) return verdict;
    return { effect: 'deny', reason: `API key ${verdict.keyId} lacks scope ${scope}`, keyId: verdict.keyId };
  }

  /** Why the key `id` no longer authenticates (revoked, gone), or undefined while it is live. */
  async revoked(id: string): Promise<string | undefined> {
    const row = await this.#store.apiKeys.get(id);
    if (row === undefined) return `API key ${id} no longer exists`;
    return row.revokedAt === null ? undefined : `API key ${id} was revoked at ${row.revokedAt}`;
  }

  /** True when the key existed and was live. */
  async revoke(id: string): Promise<boolean> {
    const at = this.#now().toISOString();
    return this.#store.transaction(async (tx) => {
      const revoked = await tx.apiKeys.revoke(id, at);
      if (revoked) await tx.securityEvents.append({ at, kind: 'apikey.revoked', subject: id, detail: '{}' });
      return revoked;
    });
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.#store.apiKeys.list();
    return rows.map((row) => ({
      id: row.id,
      scopes: readScopes(row.scopes) ?? [],
      label: row.label,
      agentId: row.agentId ?? null,
      createdAt: row.createdAt,
      revokedAt: row.revokedAt,
    }));
  }
}

function parseScopes(scopes: readonly string[]): ApiScope[] {
  const parsed = z
    .array(ApiScopeSchema)
    .min(1, { error: 'a key needs at least one scope' })
    .safeParse(scopes);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `scopes[${String(issue.path[0])}]` : 'scopes';
    throw new OacpError<ApiKeyErrorCode>('APIKEY_SCOPE_INVALID', `${where}: ${issue?.message ?? 'invalid'}`);
  }
  return [...new Set(parsed.data)];
}

/** Scopes as stored; undefined when the row was altered into something unreadable (then: deny). */
function readScopes(text: string): ApiScope[] | undefined {
  try {
    const parsed = StoredScopes.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
