import type { A2aAgent } from './agent.js';
import { type A2aNodeInfo, agentUrl } from './agent-card.js';

export const OACP_A2A_DIRECTORY_EXTENSION = 'https://oacp.dev/a2a/directory/v1';

/**
 * The node's root card (/.well-known/agent-card.json): not an agent itself but
 * a signpost to each agent's own signed card. It is unsigned (no single agent
 * speaks for the node); a caller trusts an agent by that agent's card.
 */
export function directoryCard(node: A2aNodeInfo, base: string, agents: readonly A2aAgent[]): unknown {
  return {
    name: `OACP node ${node.logOrigin}`,
    description: `An OACP gateway serving ${agents.length} agent(s) over A2A. Each agent has its own signed card at /a2a/<name>/.well-known/agent-card.json.`,
    supportedInterfaces: [],
    version: '1.0.0',
    capabilities: {
      streaming: false,
      pushNotifications: false,
      extensions: [
        {
          uri: OACP_A2A_DIRECTORY_EXTENSION,
          description: 'The agents this node serves, with their did:key and card URL.',
          params: {
            agents: agents.map((agent) => ({
              name: agent.name,
              did: agent.did,
              card: `${agentUrl(base, agent.name)}/.well-known/agent-card.json`,
            })),
          },
        },
      ],
    },
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['application/json'],
    skills: agents.map((agent) => ({
      id: agent.name,
      name: agent.name,
      description: agent.description,
      tags: ['oacp-agent'],
    })),
  };
}
