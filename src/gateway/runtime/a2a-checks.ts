import { A2A_MESSAGE_TOOL, type InboundChecks } from '../../a2a/inbound-calls.js';
import type { AgentDirectory } from './agent-directory.js';
import { RuntimeError } from './errors.js';
import type { GatewayPolicy } from './policy/gateway-policy.js';
import type { GatewayQuotas } from './quotas.js';

/**
 * The gateway's own checks on an inbound A2A message, handed to the A2A
 * server and run by decideCall in its order: the global policies as
 * `Action::"a2a/message"` (principal the sender, resource the receiving
 * agent), then the receiving agent's call quota (its `api_calls_per_hour`,
 * one call per message, taken last so a refused message costs none).
 */
export function a2aInboundChecks(parts: {
  readonly globalPolicy: GatewayPolicy;
  readonly quotas: GatewayQuotas;
  readonly agents: Pick<AgentDirectory, 'get'>;
}): InboundChecks {
  return {
    policy: ({ agent, sender, senderName }) => {
      const decision = parts.globalPolicy.decide({
        action: 'a2a/message',
        principal: {
          id: sender ?? 'unsigned',
          attributes: {
            name: senderName ?? sender ?? 'unsigned',
            tier: senderName === undefined ? 'remote' : 'standard',
            attestation_level: sender === null ? 0 : 2,
          },
        },
        resource: {
          id: agent.did,
          attributes: { name: agent.name, tier: agent.tier, attestation_level: 2 },
        },
        context: { signed: sender !== null },
      });
      return {
        effect: decision.effect,
        reason: decision.effect === 'deny' ? `global policy: ${decision.reason}` : decision.reason,
        policyIds: decision.policyIds,
        policyDigest: decision.policyDigest,
      };
    },
    quota: async ({ agent }) => {
      const record = await parts.agents.get(agent.did);
      if (record === undefined)
        return { effect: 'deny', reason: `agent ${agent.name} is not registered here` };
      try {
        await parts.quotas.admitToolCall({
          agent: { did: record.id, name: record.name },
          manifest: record.manifest,
          tool: A2A_MESSAGE_TOOL,
        });
        return { effect: 'allow', reason: 'within quota' };
      } catch (error) {
        if (!(error instanceof RuntimeError)) throw error;
        return { effect: 'deny', reason: error.message };
      }
    },
  };
}
