import type { Manifest } from '../../capability/manifest.js';
import { parseManifest } from '../../capability/parse.js';
import { generateEd25519, keySigner, type Signer } from '../../core/ed25519.js';
import { OacpError } from '../../core/errors.js';
import { didKeyFromPublicKey } from '../../identity/did-key.js';
import type { AgentAttributes } from './caller.js';

export type AgentTransition = 'start' | 'suspend' | 'resume' | 'retire';

/** An agent as the gateway's routes and runtime see it. */
export interface AgentRecord {
  /** did:key of the agent's identity. */
  readonly id: string;
  readonly name: string;
  /** The effective manifest (already bounded by the gateway's ceiling and the parent's). */
  readonly manifest: Manifest;
  /** created, running, suspended, retired (the lifecycle's states). */
  readonly state: string;
  readonly code: string | null;
  readonly attributes: AgentAttributes;
  readonly parentId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CreateAgentInput {
  readonly name: string;
  readonly manifest: unknown;
  readonly code?: string;
  readonly attributes?: AgentAttributes;
  readonly parent?: string;
}

/** Where agents live: the registry (store-backed) in a gateway, in memory in tests. */
export interface AgentDirectory {
  create(input: CreateAgentInput): Promise<AgentRecord>;
  /** By did or by name. */
  get(ref: string): Promise<AgentRecord | undefined>;
  list(): Promise<AgentRecord[]>;
  /** Applies a lifecycle transition; refuses one the current state does not allow. */
  transition(id: string, transition: AgentTransition): Promise<AgentRecord>;
  /** The agent's signing key (for co-signed receipts), when the gateway holds it. */
  signer(id: string): Promise<Signer | undefined>;
}

export type AgentDirectoryErrorCode =
  | 'AGENT_NOT_FOUND'
  | 'AGENT_EXISTS'
  | 'AGENT_TRANSITION_INVALID'
  | 'AGENT_MANIFEST_INVALID';

/** Which state each transition leads to, from which states. */
export const LIFECYCLE: Readonly<
  Record<AgentTransition, { readonly from: readonly string[]; readonly to: string }>
> = {
  start: { from: ['created'], to: 'running' },
  suspend: { from: ['running'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'running' },
  retire: { from: ['created', 'running', 'suspended'], to: 'retired' },
};

/** The children, grandchildren, ... of `id` among `all` (parents before their children). */
export function descendantsOf(all: readonly AgentRecord[], id: string): AgentRecord[] {
  const out: AgentRecord[] = [];
  const seen = new Set<string>([id]);
  const queue = [id];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const agent of all) {
      if (agent.parentId !== parent || seen.has(agent.id)) continue;
      seen.add(agent.id);
      out.push(agent);
      queue.push(agent.id);
    }
  }
  return out;
}

/** Agents in memory with fresh keys: for tests and embedding without a store. Forgets everything on exit. */
export class MemoryAgentDirectory implements AgentDirectory {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly signers = new Map<string, Signer>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  async create(input: CreateAgentInput): Promise<AgentRecord> {
    if ([...this.agents.values()].some((agent) => agent.name === input.name)) {
      throw new OacpError<AgentDirectoryErrorCode>(
        'AGENT_EXISTS',
        `an agent named "${input.name}" already exists`,
      );
    }
    let manifest: Manifest;
    try {
      manifest = parseManifest(input.manifest);
    } catch (error) {
      throw new OacpError<AgentDirectoryErrorCode>(
        'AGENT_MANIFEST_INVALID',
        error instanceof Error ? error.message : String(error),
      );
    }
    const parent = input.parent === undefined ? undefined : await this.get(input.parent);
    if (input.parent !== undefined && parent === undefined) {
      throw new OacpError<AgentDirectoryErrorCode>('AGENT_NOT_FOUND', `no parent agent "${input.parent}"`);
    }
    const signer = keySigner(generateEd25519().privateKey);
    const id = didKeyFromPublicKey(signer.publicKey);
    const at = this.now().toISOString();
    const record: AgentRecord = {
      id,
      name: input.name,
      manifest,
      state: 'created',
      code: input.code ?? null,
      attributes: { ...(input.attributes ?? {}) },
      parentId: parent?.id ?? null,
      createdAt: at,
      updatedAt: at,
    };
    this.agents.set(id, record);
    this.signers.set(id, signer);
    return record;
  }

  async get(ref: string): Promise<AgentRecord | undefined> {
    return this.agents.get(ref) ?? [...this.agents.values()].find((agent) => agent.name === ref);
  }

  async list(): Promise<AgentRecord[]> {
    return [...this.agents.values()];
  }

  async transition(id: string, transition: AgentTransition): Promise<AgentRecord> {
    const agent = this.agents.get(id);
    if (agent === undefined)
      throw new OacpError<AgentDirectoryErrorCode>('AGENT_NOT_FOUND', `no agent ${id}`);
    const rule = LIFECYCLE[transition];
    if (!rule.from.includes(agent.state)) {
      throw new OacpError<AgentDirectoryErrorCode>(
        'AGENT_TRANSITION_INVALID',
        `cannot ${transition} agent ${agent.name}: it is ${agent.state} (allowed from ${rule.from.join(', ')})`,
      );
    }
    const at = this.now().toISOString();
    const next = { ...agent, state: rule.to, updatedAt: at };
    this.agents.set(id, next);
    // Like the registry: retiring a parent retires every descendant still alive.
    if (rule.to === 'retired') {
      for (const descendant of descendantsOf([...this.agents.values()], id)) {
        if (descendant.state !== 'retired')
          this.agents.set(descendant.id, { ...descendant, state: 'retired', updatedAt: at });
      }
    }
    return next;
  }

  async signer(id: string): Promise<Signer | undefined> {
    return this.signers.get(id);
  }
}
