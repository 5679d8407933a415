// The identity layer's public face: key storage, did:key, signed requests.
export { AgentNameSchema, parseAgentName } from './agent-name.js';
export { base58btcDecode, base58btcEncode } from './base58btc.js';
export { DID_KEY_PATTERN, didKeyFromPublicKey, isDidKey, publicKeyFromDidKey } from './did-key.js';
export type { IdentityErrorCode } from './errors.js';
export { type HomeLayout, homeLayout } from './home-layout.js';
export {
  type AgentIdentity,
  type AgentInfo,
  type InitOptions,
  KeyStore,
  type OpenOptions,
} from './keystore.js';
export {
  loadMasterKey,
  MASTER_KEY_ENV,
  type MasterKey,
  type MasterKeySource,
  parseMasterKeyEnv,
} from './master-key.js';
export { InMemoryNonceStore, type NonceStore, type NonceStoreOptions } from './nonce-store.js';
export { keyFingerprint, type PublicKeyForms, publicKeyForms } from './public-key-forms.js';
export { type KeyKind, type SealedKey, SealedKeySchema } from './sealed-key.js';
export {
  DEFAULT_MAX_SKEW_MS,
  type RequestVerdict,
  SIGNED_REQUEST_DOMAIN,
  type SignedRequest,
  SignedRequestSchema,
  type SignRequestInput,
  signedRequestMessage,
  signRequest,
  type VerifyRequestOptions,
  verifySignedRequest,
} from './signed-request.js';
export { SqliteNonceStore } from './sqlite-nonce-store.js';
