import type { Signer } from '../../core/ed25519.js';
import { OacpError } from '../../core/errors.js';
import type { AgentRegistry, AgentRecord as RegistryRecord } from '../agents/agent-registry.js';
import type { AgentDirectory, AgentRecord, AgentTransition, CreateAgentInput } from './agent-directory.js';
import type { AgentAttributes } from './caller.js';

export interface RegistryDirectoryOptions {
  /**
   * How long a looked-up agent record is reused on the hot path (default 1 s).
   * Changes made through this gateway apply at once; a change made by another
   * gateway process sharing the store is seen after at most this long.
   */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/**
 * The agents registry (store-backed: identity, manifest lineage, lifecycle)
 * seen through the interface the routes and the runtime use. Agents are
 * addressed by did:key; a name is accepted where it names exactly one agent.
 * Records are cached briefly and decrypted signing keys kept until the agent
 * retires, because every tool call needs both.
 */
export function registryDirectory(
  registry: AgentRegistry,
  options: RegistryDirectoryOptions = {},
): AgentDirectory {
  const cacheMs = options.cacheMs ?? 1000;
  const now = options.now ?? Date.now;
  const records = new Map<string, { record: AgentRecord; expires: number }>();
  const signers = new Map<string, Signer>();
  const remember = (record: AgentRecord): AgentRecord => {
    if (records.size >= 10_000) records.clear();
    records.set(record.id, { record, expires: now() + cacheMs });
    if (record.state === 'retired') signers.delete(record.id);
    return record;
  };
  const view = (record: RegistryRecord): AgentRecord => ({
    id: record.id,
    name: record.name,
    manifest: record.manifest,
    state: record.state,
    code: record.code,
    attributes: attributesOf(record),
    parentId: record.parentId,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  });
  return {
    async create(input: CreateAgentInput) {
      const parentId = input.parent === undefined ? undefined : (await resolve(input.parent))?.id;
      if (input.parent !== undefined && parentId === undefined) {
        throw new OacpError('AGENT_NOT_FOUND', `no parent agent "${input.parent}"`);
      }
      const created = await registry.create({
        name: input.name,
        manifest: input.manifest,
        ...(parentId === undefined ? {} : { parentId }),
        ...(input.code === undefined ? {} : { code: input.code }),
        ...(input.attributes === undefined ? {} : { attributes: input.attributes }),
      } as Parameters<AgentRegistry['create']>[0]);
      return remember(view(created));
    },
    async get(ref) {
      const cached = records.get(ref);
      if (cached !== undefined && cached.expires > now()) return cached.record;
      const found = await resolve(ref);
      return found === undefined ? undefined : remember(view(found));
    },
    async list() {
      return (await registry.list()).map(view);
    },
    async transition(id: string, transition: AgentTransition) {
      const next =
        transition === 'start'
          ? await registry.start(id)
          : transition === 'suspend'
            ? await registry.suspend(id)
            : transition === 'resume'
              ? await registry.resume(id)
              : await registry.retire(id);
      // The registry retired the descendants too: no cached record or signer may outlive that.
      if (transition === 'retire') {
        for (const descendant of await registry.descendants(id)) remember(view(descendant));
      }
      return remember(view(next));
    },
    async signer(id): Promise<Signer | undefined> {
      const known = signers.get(id);
      if (known !== undefined) return known;
      try {
        const signer = await registry.signer(id);
        signers.set(id, signer);
        return signer;
      } catch {
        return undefined;
      }
    },
  };

  async function resolve(ref: string): Promise<RegistryRecord | undefined> {
    if (ref.startsWith('did:key:')) return registry.find(ref);
    const named = (await registry.list()).filter((agent) => agent.name === ref);
    if (named.length > 1) {
      throw new OacpError(
        'BAD_REQUEST',
        `${named.length} agents are named "${ref}"; address the agent by its did:key`,
      );
    }
    return named[0];
  }
}

/** Attributes, once the registry keeps them (the store has the column); empty before. */
function attributesOf(record: RegistryRecord): AgentAttributes {
  const attributes = (record as { attributes?: unknown }).attributes;
  if (typeof attributes !== 'object' || attributes === null) return {};
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      out[key] = value;
  }
  return out;
}
