import type { AgentCard, AgentExtension } from '@a2a-js/sdk';
import type { A2aAgent } from './agent.js';
import { type AttestationParams, OACP_A2A_EXTENSION } from './extension.js';

/** What the node tells callers about where its receipts and log are. */
export interface A2aNodeInfo {
  /** The transparency log's origin line. */
  readonly logOrigin: string;
  /** The log's C2SP verifier key. */
  readonly logVerifierKey: string;
  /** Raw Ed25519 keys the Airlock signs receipts with. */
  readonly airlockKeys: readonly Uint8Array[];
  /** The base URL callers reach this node at; each request's own origin when unset. */
  readonly publicUrl?: string;
  /** Receipt N with its inclusion proof, relative to the base URL (the gateway's route by default). */
  readonly receiptsPath?: string;
  readonly checkpointPath?: string;
}

export const A2A_PREFIX = '/a2a';
export const DEFAULT_RECEIPTS_PATH = '/v1/receipts/{index}';
export const DEFAULT_CHECKPOINT_PATH = '/v1/log/checkpoint';

export function agentUrl(base: string, name: string): string {
  return `${trimSlash(base)}${A2A_PREFIX}/${encodeURIComponent(name)}`;
}

export function attestationParams(
  agent: A2aAgent,
  node: A2aNodeInfo,
  base: string,
  signedMessagesRequired: boolean,
): AttestationParams {
  const root = trimSlash(base);
  return {
    did: agent.did,
    tier: agent.tier,
    manifestDigest: agent.manifestDigest,
    airlockKeys: node.airlockKeys.map((key) => Buffer.from(key).toString('base64')),
    receipts: `${root}${node.receiptsPath ?? DEFAULT_RECEIPTS_PATH}`,
    log: {
      origin: node.logOrigin,
      verifierKey: node.logVerifierKey,
      checkpoint: `${root}${node.checkpointPath ?? DEFAULT_CHECKPOINT_PATH}`,
    },
    signedMessagesRequired,
  };
}

/** The unsigned v1.0 card of one agent, reachable at `base`. */
export function buildAgentCard(
  agent: A2aAgent,
  node: A2aNodeInfo,
  base: string,
  signedMessagesRequired: boolean,
): AgentCard {
  const url = agentUrl(base, agent.name);
  const extension: AgentExtension = {
    uri: OACP_A2A_EXTENSION,
    description:
      'OACP attestation: this card is signed by the did:key below; messages must be signed by the sender (trust graph applies); result artifacts carry the signed execution receipt of the sandboxed run, logged in the transparency log named here.',
    required: signedMessagesRequired,
    params: attestationParams(agent, node, base, signedMessagesRequired),
  };
  return {
    name: agent.name,
    description: agent.description,
    supportedInterfaces: [
      // v0.3 is listed too so older clients (message/send) reach the same handler.
      { url, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
      { url, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '0.3' },
    ],
    provider: { organization: `OACP node ${node.logOrigin}`, url: trimSlash(base) },
    version: '1.0.0',
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [extension],
      extendedAgentCard: false,
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['application/json', 'text/plain', 'application/jose'],
    skills: agent.skills.map((skill) => ({
      id: skill.id,
      name: skill.name,
      description: skill.description,
      tags: [...(skill.tags ?? [])],
      examples: [...(skill.examples ?? [])],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
    })),
    signatures: [],
  };
}

function trimSlash(base: string): string {
  return base.endsWith('/') ? base.slice(0, -1) : base;
}
