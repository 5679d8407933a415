import { intersectManifests } from '../../capability/intersect.js';
import { acceptManifest, type ManifestTrust } from '../../capability/load.js';
import { type Manifest, ManifestSchema } from '../../capability/manifest.js';
import {
  generateEd25519,
  keySigner,
  privateKeyFromSeed,
  rawPrivateSeed,
  type Signer,
} from '../../core/ed25519.js';
import { OacpError } from '../../core/errors.js';
import type { SecretValues } from '../../core/secret-values.js';
import { parseAgentName } from '../../identity/agent-name.js';
import { didKeyFromPublicKey } from '../../identity/did-key.js';
import { privateKeyTexts } from '../../identity/private-key-texts.js';
import { parseSealedKey, sealKey, unsealKey } from '../../identity/sealed-key.js';
import type { Repos, Store, StoredAgentRow } from '../../store/index.js';
import type { CredentialVault } from '../credentials/index.js';
import type { Checkpoint, ContextVault } from '../vault/index.js';
import { type AgentAttributes, parseAttributes } from './attributes.js';
import type { AgentErrorCode } from './errors.js';
import {
  type AgentState,
  type AgentTransition,
  assertTransition,
  isAgentState,
  TRANSITIONS,
} from './lifecycle.js';

export interface AgentRecord {
  /** did:key of the agent's Ed25519 key: its identity everywhere (receipts, A2A, logs). */
  readonly id: string;
  readonly name: string;
  readonly publicKey: Uint8Array;
  /** The effective manifest: what the agent asked for, cut down to its parent (or the gateway ceiling). */
  readonly manifest: Manifest;
  readonly state: AgentState;
  readonly parentId: string | null;
  readonly code: string | null;
  readonly attributes: AgentAttributes;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CreateAgentInput {
  /** 1-64 of a-z 0-9 _ -, unique in the gateway for good (a retired agent keeps its name). */
  readonly name: string;
  /** A parsed manifest document, or a DSSE envelope around one (required with require_signed_manifests). */
  readonly manifest: unknown;
  /** Creates a child: its manifest is intersected with the parent's. */
  readonly parentId?: string;
  /** The agent's program (e.g. JavaScript for the standard tier), stored as given. */
  readonly code?: string;
  /** Declared attributes, for policies (principal.<name>). */
  readonly attributes?: AgentAttributes;
  /** Who asked (an API key id), for the security event. */
  readonly actor?: string;
}

export interface AgentRegistryOptions {
  readonly store: Store;
  readonly masterKey: Uint8Array;
  readonly vault: ContextVault;
  /** When given, a retired agent's credentials are deleted with it. */
  readonly credentials?: CredentialVault;
  /** Manifest signature policy (manifestTrustFrom(config.gateway)); default: unsigned accepted, signed verified. */
  readonly trust?: ManifestTrust;
  /** Gateway-wide ceiling for top-level agents (ceilingManifest(config.sandbox.capabilities, config.quotas)). */
  readonly ceiling?: Manifest;
  /**
   * The gateway's live secret values: each agent key's text forms (privateKeyTexts) are
   * registered as the key is made or unsealed (bounded tier: agents grow with use), so no
   * log line or error answer shows one.
   */
  readonly secrets?: SecretValues;
  readonly now?: () => Date;
}

/**
 * Agents of the gateway: identity, manifest, lineage and lifecycle, kept in
 * the store so a restarted gateway knows them all.
 *
 * - Identity: a fresh Ed25519 key per agent, named by its did:key; the
 *   private key is sealed under the master key (identity's sealed-key format,
 *   bound to the did), never stored in the clear.
 * - Deny by default: a manifest grants only what it names; with
 *   require_signed_manifests only a DSSE envelope verified against the
 *   trusted keys is accepted.
 * - Lineage: a child's effective manifest is intersectManifests(parent,
 *   request), never wider than its parent's.
 * - Lifecycle: created -> running <-> suspended, any -> retired (terminal);
 *   anything else is AGENT_ILLEGAL_TRANSITION. Retiring destroys the context
 *   partition key (crypto-shredding) and the agent's credentials.
 */
export class AgentRegistry {
  readonly #store: Store;
  readonly #masterKey: Uint8Array;
  readonly #vault: ContextVault;
  readonly #credentials: CredentialVault | undefined;
  readonly #trust: ManifestTrust;
  readonly #ceiling: Manifest | undefined;
  readonly #secrets: SecretValues | undefined;
  readonly #now: () => Date;

  constructor(options: AgentRegistryOptions) {
    this.#store = options.store;
    this.#masterKey = options.masterKey;
    this.#vault = options.vault;
    this.#credentials = options.credentials;
    this.#trust = options.trust ?? {};
    this.#ceiling = options.ceiling;
    this.#secrets = options.secrets;
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: CreateAgentInput): Promise<AgentRecord> {
    const name = parseAgentName(input.name);
    const attributes = parseAttributes(input.attributes);
    if ((await this.#store.agents.getByName(name)) !== undefined) throw exists(name);
    const requested = acceptManifest(input.manifest, this.#trust, `for agent "${name}"`);
    let effective: Manifest;
    if (input.parentId !== undefined) {
      const parent = await this.get(input.parentId);
      if (parent.state === 'retired') {
        throw new OacpError<AgentErrorCode>(
          'AGENT_PARENT_RETIRED',
          `cannot create a child of agent ${parent.id}: it is retired`,
        );
      }
      effective = intersectManifests(parent.manifest, requested);
    } else {
      effective = this.#ceiling === undefined ? requested : intersectManifests(this.#ceiling, requested);
    }

    const { privateKey } = generateEd25519();
    const signer = keySigner(privateKey);
    const seed = rawPrivateSeed(privateKey);
    this.#secrets?.add(privateKeyTexts(seed));
    const id = didKeyFromPublicKey(signer.publicKey);
    const createdAt = this.#now().toISOString();
    const sealed = sealKey(this.#masterKey, {
      kind: 'agent',
      name: id,
      publicKey: signer.publicKey,
      seed,
      did: id,
      createdAt,
    });
    seed.fill(0);
    const row: StoredAgentRow = {
      id,
      name,
      manifest: JSON.stringify(effective),
      state: 'created',
      parentId: input.parentId ?? null,
      sealedKey: JSON.stringify(sealed),
      code: input.code ?? null,
      attributes: JSON.stringify(attributes),
      createdAt,
      updatedAt: createdAt,
    };
    try {
      await this.#store.transaction(async (tx) => {
        await tx.agents.insert(row);
        await this.#vault.createPartition(id, tx);
        await this.#event(tx, 'agent.created', id, {
          name,
          parentId: row.parentId,
          actor: input.actor ?? null,
        });
      });
    } catch (error) {
      // Lost a race for the name (the id is fresh, so a conflict is the name).
      if (error instanceof OacpError && error.code === 'STORE_CONFLICT') throw exists(name);
      throw error;
    }
    return toRecord(row);
  }

  /** The agent by did or by name, or AGENT_NOT_FOUND. */
  async get(ref: string): Promise<AgentRecord> {
    const agent = await this.find(ref);
    if (agent === undefined) throw new OacpError<AgentErrorCode>('AGENT_NOT_FOUND', `no agent ${ref}`);
    return agent;
  }

  /** The agent by did or by name, or undefined. */
  async find(ref: string): Promise<AgentRecord | undefined> {
    const row = ref.startsWith('did:')
      ? await this.#store.agents.get(ref)
      : await this.#store.agents.getByName(ref);
    return row === undefined ? undefined : toRecord(row);
  }

  async list(
    filter: { readonly state?: AgentState; readonly parentId?: string } = {},
  ): Promise<AgentRecord[]> {
    return (await this.#store.agents.list(filter)).map(toRecord);
  }

  async children(id: string): Promise<AgentRecord[]> {
    return this.list({ parentId: id });
  }

  /** Parent, grandparent, ... up to the root (nearest first). */
  async ancestors(id: string): Promise<AgentRecord[]> {
    const out: AgentRecord[] = [];
    const seen = new Set<string>([id]);
    let current = await this.get(id);
    while (current.parentId !== null && !seen.has(current.parentId)) {
      seen.add(current.parentId);
      current = await this.get(current.parentId);
      out.push(current);
    }
    return out;
  }

  /** created -> running, or suspended -> running. */
  start(id: string, actor?: string): Promise<AgentRecord> {
    return this.transition(id, 'running', actor);
  }

  suspend(id: string, actor?: string): Promise<AgentRecord> {
    return this.transition(id, 'suspended', actor);
  }

  resume(id: string, actor?: string): Promise<AgentRecord> {
    return this.transition(id, 'running', actor);
  }

  /**
   * Terminal: destroys the context partition key and the credentials of the
   * agent and of every descendant still alive, in one transaction. A child
   * holds a subset of its parent's authority; leaving it running after its
   * parent is gone would keep authority nobody answers for.
   */
  retire(id: string, actor?: string): Promise<AgentRecord> {
    return this.transition(id, 'retired', actor);
  }

  /** Children, grandchildren, ... (parents before their children), whatever their state. */
  async descendants(id: string): Promise<AgentRecord[]> {
    const root = await this.get(id);
    const out: AgentRecord[] = [];
    const seen = new Set<string>([root.id]);
    const queue = [root.id];
    for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
      for (const child of await this.children(parent)) {
        if (seen.has(child.id)) continue;
        seen.add(child.id);
        out.push(child);
        queue.push(child.id);
      }
    }
    return out;
  }

  /** Applies a lifecycle verb; `start` is only from created and `resume` only from suspended. */
  async apply(ref: string, verb: AgentTransition, actor?: string): Promise<AgentRecord> {
    const current = await this.get(ref);
    const rule = TRANSITIONS[verb];
    if (!rule.from.includes(current.state)) {
      throw new OacpError<AgentErrorCode>(
        'AGENT_ILLEGAL_TRANSITION',
        `cannot ${verb} agent ${current.id}: illegal transition ${current.state} -> ${rule.to} (${verb} is allowed from ${rule.from.join(', ')})`,
      );
    }
    return this.transition(current.id, rule.to, actor);
  }

  /**
   * Moves the agent to `to` if that is a legal move from its current state;
   * compare-and-set in the store, so two racing callers cannot both win.
   */
  async transition(ref: string, to: AgentState, actor?: string): Promise<AgentRecord> {
    const current = await this.get(ref);
    const id = current.id;
    assertTransition(id, current.state, to);
    const at = this.#now().toISOString();
    const alive =
      to === 'retired' ? (await this.descendants(id)).filter((agent) => agent.state !== 'retired') : [];
    await this.#store.transaction(async (tx) => {
      await this.#move(tx, current, to, at, { actor: actor ?? null });
      for (const descendant of alive) {
        await this.#move(tx, descendant, 'retired', at, { actor: actor ?? null, cascadeFrom: id });
      }
    });
    // After the commit: push the destroyed salt out of the WAL / dead tuples.
    if (to === 'retired') await this.#store.scrub();
    return { ...current, state: to, updatedAt: at };
  }

  /** One agent's state change inside `tx`; retiring destroys its context key and credentials. */
  async #move(
    tx: Repos,
    agent: AgentRecord,
    to: AgentState,
    at: string,
    detail: { readonly actor: string | null; readonly cascadeFrom?: string },
  ): Promise<void> {
    if (!(await tx.agents.setState(agent.id, agent.state, to, at))) {
      throw new OacpError<AgentErrorCode>(
        'AGENT_STATE_CONFLICT',
        `agent ${agent.id} changed state while moving ${agent.state} -> ${to}; read it again and retry`,
      );
    }
    if (to === 'retired') {
      await this.#vault.destroyPartition(agent.id, tx);
      await this.#credentials?.removeAgent(agent.id, tx);
    }
    await this.#event(tx, to === 'retired' ? 'agent.retired' : 'agent.state', agent.id, {
      from: agent.state,
      to,
      ...detail,
    });
  }

  /** The agent's signing key (to co-sign receipts, sign A2A requests); refused once retired. */
  async signer(id: string): Promise<Signer> {
    const row = await this.#store.agents.get(id);
    if (row === undefined) throw new OacpError<AgentErrorCode>('AGENT_NOT_FOUND', `no agent ${id}`);
    // The record check first: a row whose sealed key names another did is refused before unsealing.
    toRecord(row);
    if (row.state === 'retired') {
      throw new OacpError<AgentErrorCode>('AGENT_RETIRED', `agent ${id} is retired; its key no longer signs`);
    }
    const where = `agent ${id}`;
    const sealed = parseSealedKey(row.sealedKey, where);
    const seed = unsealKey(this.#masterKey, sealed, { kind: 'agent', name: id }, where);
    try {
      const privateKey = privateKeyFromSeed(seed);
      this.#secrets?.add(privateKeyTexts(seed));
      const signer = keySigner(privateKey);
      if (didKeyFromPublicKey(signer.publicKey) !== id) {
        throw new OacpError<AgentErrorCode>(
          'AGENT_RECORD_INVALID',
          `${where}: the sealed key is not this agent's key`,
        );
      }
      return signer;
    } finally {
      seed.fill(0);
    }
  }

  /** Saves the agent's state (any JSON value), encrypted under its partition key. Returns the checkpoint number. */
  async checkpoint(ref: string, state: unknown): Promise<number> {
    const agent = await this.#notRetired(ref);
    return this.#vault.saveCheckpoint(agent.id, state);
  }

  /** The latest checkpoint, or undefined; works on a restarted gateway (it is in the store). */
  async restore(ref: string): Promise<Checkpoint | undefined> {
    const agent = await this.#notRetired(ref);
    return this.#vault.loadCheckpoint(agent.id);
  }

  async #notRetired(ref: string): Promise<AgentRecord> {
    const agent = await this.get(ref);
    if (agent.state === 'retired') {
      throw new OacpError<AgentErrorCode>(
        'AGENT_RETIRED',
        `agent ${agent.id} is retired; its state was destroyed`,
      );
    }
    return agent;
  }

  async #event(tx: Repos, kind: string, subject: string, detail: Record<string, unknown>): Promise<void> {
    await tx.securityEvents.append({
      at: this.#now().toISOString(),
      kind,
      subject,
      detail: JSON.stringify(detail),
    });
  }
}

function exists(name: string): OacpError<AgentErrorCode> {
  return new OacpError<AgentErrorCode>('AGENT_EXISTS', `an agent named "${name}" already exists`);
}

function toRecord(row: StoredAgentRow): AgentRecord {
  const invalid = (why: string) =>
    new OacpError<AgentErrorCode>(
      'AGENT_RECORD_INVALID',
      `the stored record of agent ${row.id} is invalid: ${why}`,
    );
  if (!isAgentState(row.state)) throw invalid(`unknown state "${row.state}"`);
  let manifest: Manifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(row.manifest));
  } catch {
    throw invalid('its manifest does not parse');
  }
  const sealed = parseSealedKey(row.sealedKey, `agent ${row.id}`);
  if (sealed.did !== row.id) throw invalid('its sealed key belongs to another did');
  let attributes: AgentAttributes;
  try {
    attributes = parseAttributes(JSON.parse(row.attributes));
  } catch {
    throw invalid('its attributes do not parse');
  }
  return {
    id: row.id,
    name: row.name,
    publicKey: new Uint8Array(Buffer.from(sealed.publicKey, 'base64')),
    manifest,
    state: row.state,
    parentId: row.parentId,
    code: row.code,
    attributes,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
