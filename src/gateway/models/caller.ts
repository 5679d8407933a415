import type { AgentDirectory } from '../runtime/agent-directory.js';
import type { ModelCaller } from './model-gateway.js';

/** Deepest lineage walked: a longer chain of parents is cut here (the registry never builds one, nor a loop). */
const MAX_LINEAGE = 64;

/**
 * The caller of a model call, from the agent's id: its manifest and
 * attributes, and its lineage (the agent, then its ancestors), whose budgets
 * the call spends from. Undefined for an unknown or retired agent: the caller
 * refuses the call. One place for the HTTP endpoints and the sandbox binding.
 */
export async function modelCallerFor(
  agents: AgentDirectory,
  agentId: string,
  signed: boolean,
): Promise<ModelCaller | undefined> {
  const agent = await agents.get(agentId);
  if (agent === undefined || agent.state === 'retired') return undefined;
  const lineage = [agent.id];
  for (let parent = agent.parentId; parent !== null && lineage.length < MAX_LINEAGE; ) {
    const record = await agents.get(parent);
    // A loop of parents (a store edited by hand, a bad restore) ends at the first agent seen again:
    // walked on, it listed each agent up to 32 times, each budget charged that many times a call.
    if (record === undefined || lineage.includes(record.id)) break;
    lineage.push(record.id);
    parent = record.parentId;
  }
  return {
    did: agent.id,
    name: agent.name,
    manifest: agent.manifest,
    attributes: agent.attributes,
    lineage,
    signed,
  };
}
