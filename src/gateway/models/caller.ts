import type { AgentDirectory } from '../runtime/agent-directory.js';
import type { ModelCaller } from './model-gateway.js';

/** Deepest lineage walked: a longer chain of parents is cut here (the registry never builds one). */
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
    if (record === undefined) break;
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
