// The public API of the `oacp` package. Any export added here becomes public API;
// the typed HTTP client is the separate entry point `oacp/client`.

export { callA2aAgent, createA2aServer } from './a2a/index.js';
export { doctorReport } from './airlock/doctor.js';
export { processTiers } from './airlock/process-tiers.js';
export type { ProcessSandbox, ProcessSpec, Sandbox, TierName, Usage } from './airlock/sandbox.js';
export { createTierRegistry, TierUnavailableError } from './airlock/tiers.js';
export { StandardTier } from './airlock/wasm/standard-tier.js';
// Receipts
export { type Envelope, pae, parseEnvelope, signEnvelope } from './attest/dsse.js';
export { EXECUTION_PREDICATE_TYPE } from './attest/execution.js';
export { buildStatement, envelopeBytes, signReceipt } from './attest/receipt.js';
export { TOOL_CALL_PREDICATE_TYPE } from './attest/tool-call.js';
export { TRUST_LEVELS, type TrustLevel } from './attest/trust-level.js';
export { verifyReceiptEnvelope } from './attest/verify-receipt.js';
// Capabilities and the Airlock
export { intersectManifests } from './capability/intersect.js';
export { loadManifest } from './capability/load.js';
export { type Manifest, ManifestSchema } from './capability/manifest.js';
export { signManifest, verifySignedManifest } from './capability/signed.js';
export { runGatewayCommand } from './cli/commands/gateway.js';
// Errors and decisions
export type { Decision } from './core/decision.js';
export type { Signer } from './core/ed25519.js';
export { describeError, isOacpError, OacpError } from './core/errors.js';
export { canonicalize, jcsDigest } from './core/jcs.js';
export { createGateway, type Gateway, type GatewayOptions } from './gateway/gateway.js';
export { defineTool } from './gateway/runtime/define-tool.js';
// Identities and keys
export { didKeyFromPublicKey, publicKeyFromDidKey } from './identity/did-key.js';
export { type AgentIdentity, KeyStore } from './identity/keystore.js';
export { InMemoryNonceStore, type NonceStore } from './identity/nonce-store.js';
export { signRequest, verifySignedRequest } from './identity/signed-request.js';
export { SqliteNonceStore } from './identity/sqlite-nonce-store.js';
export { verifyTlogProof } from './log/tlog-proof-verify.js';
// Transparency log
export { TransparencyLog } from './log/transparency-log.js';
export { Witness } from './log/witness.js';
// MCP bridge, gateway, A2A
export { runMcpCommand } from './mcp/run.js';
export { OacpNode } from './node/oacp-node.js';
export { PolicyEngine } from './policy/engine.js';
export { loadPolicies, loadPolicyFile } from './policy/load.js';
export { type OfflineVerification, OfflineVerifier, verifyOffline } from './verify/offline-verifier.js';
