// The public API of the `oacp` package. Any export added here becomes public API.

export type { ProcessSandbox, ProcessSpec, Sandbox, TierName, Usage } from './airlock/sandbox.js';
export { type Envelope, pae, parseEnvelope, signEnvelope } from './attest/dsse.js';
export { type Manifest, ManifestSchema } from './capability/manifest.js';
export type { Decision } from './core/decision.js';
export type { Signer } from './core/ed25519.js';
export { describeError, isOacpError, OacpError } from './core/errors.js';
export { canonicalize, jcsDigest } from './core/jcs.js';
