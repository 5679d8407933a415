// The A2A layer's public face (docs/a2a.md): OACP agents as A2A agents, and a caller that checks them.
export type {
  A2aAgent,
  A2aAgentDirectory,
  A2aExecution,
  A2aExecutionContext,
  A2aExecutor,
  A2aSecurityEvent,
  A2aSkill,
  LoggedReceipt,
} from './agent.js';
export { type A2aNodeInfo, buildAgentCard } from './agent-card.js';
export { type ArtifactCheck, checkArtifact } from './artifact-check.js';
export { decryptWithSeed, encryptToDid } from './artifact-encryption.js';
export { type CardCheck, checkAgentCard } from './card-check.js';
export { signAgentCard, verifyAgentCardSignature } from './card-signature.js';
export {
  type A2aCallOptions,
  type A2aCallResult,
  type A2aConnection,
  type A2aConnectOptions,
  type A2aSendOptions,
  callA2aAgent,
  connectA2aAgent,
  fetchAgentCard,
} from './client.js';
export type { A2aErrorCode } from './errors.js';
export {
  type A2aTaskInput,
  type A2aTaskOutput,
  type AttestationParams,
  OACP_A2A_EXTENSION,
} from './extension.js';
export { OACP_JSONRPC_CODES } from './jsonrpc-errors.js';
export {
  signCancel,
  signMessage,
  signTaskAccess,
  TASK_SIGNATURE_HEADER,
  verifyMessageSignature,
} from './message-signature.js';
export { type GatewayA2aParts, gatewayA2aServer } from './mount.js';
export { type A2aServer, type A2aServerOptions, createA2aServer } from './server.js';
export { type TrustEdge, TrustGraph } from './trust-graph.js';
