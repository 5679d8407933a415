// Tool credentials: encrypted, scoped to agent and tool, injected at call time, never shown.

export { redactSecrets, SECRET_MARK } from '../../core/secret-values.js';
export {
  type CredentialInfo,
  type CredentialInput,
  CredentialVault,
} from './credential-vault.js';
export type { CredentialErrorCode } from './errors.js';
export { InjectedSecrets, type Injection } from './injected-secrets.js';
