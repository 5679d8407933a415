// API keys for the gateway HTTP API: scoped, shown once, hashed at rest, revocable.
export { type ApiKeyInfo, ApiKeys, type ApiKeyVerdict, type CreatedApiKey } from './api-keys.js';
export type { ApiKeyErrorCode } from './errors.js';
export { parseKey as parseApiKey } from './key-format.js';
export { API_SCOPES, type ApiScope, ApiScopeSchema, scopeGranted } from './scopes.js';
