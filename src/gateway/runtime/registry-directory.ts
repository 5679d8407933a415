import type { Signer } from '../../core/ed25519.js';
import { OacpError } from '../../core/errors.js';
import type { AgentRegistry, AgentRecord as RegistryRecord } from '../agents/agent-registry.js';
import type { AgentDirectory, AgentRecord, AgentTransition, CreateAgentInput } from './agent-directory.js';
import type { AgentAttributes } from './caller.js';

/**
 * The agents registry (store-backed: identity, manifest lineage, lifecycle)
 * seen through the interface the routes and the runtime use. Agents are
 * addressed by did:key; a name is accepted where it names exactly one agent.
 */
export function registryDirectory(registry: AgentRegistry): AgentDirectory {
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
      return view(created);
    },
    async get(ref) {
      const found = await resolve(ref);
      return found === undefined ? undefined : view(found);
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
      return view(next);
    },
    async signer(id): Promise<Signer | undefined> {
      try {
        return await registry.signer(id);
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
