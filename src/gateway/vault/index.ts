// Per-agent encrypted context with access log, quota and crypto-shredding (docs/context-vault.md).
export {
  type AccessOptions,
  type Checkpoint,
  type ContextKeyInfo,
  ContextVault,
  type ContextVaultOptions,
  DEFAULT_PARTITION_QUOTA_BYTES,
} from './context-vault.js';
export type { VaultErrorCode } from './errors.js';
export { contextAad, open as openSealed, partitionKey, SALT_BYTES } from './partition-crypto.js';
