// Gateway agents: did:key identity, manifests (signed when required), lineage, lifecycle, checkpoints.
export {
  type AgentRecord,
  AgentRegistry,
  type AgentRegistryOptions,
  type CreateAgentInput,
} from './agent-registry.js';
export { type AgentAttributes, parseAttributes } from './attributes.js';
export type { AgentErrorCode } from './errors.js';
export {
  AGENT_STATES,
  type AgentState,
  type AgentTransition,
  isAgentState,
  TRANSITIONS,
  transitionDecision,
} from './lifecycle.js';
export { ceilingManifest, manifestTrustFrom } from './manifest-trust.js';
