/** Every way the identity layer can refuse, so callers switch on `code`, not on messages. */
export type IdentityErrorCode =
  | 'IDENTITY_HOME_MISSING'
  | 'IDENTITY_HOME_EXISTS'
  | 'IDENTITY_HOME_UNUSABLE'
  | 'IDENTITY_HOME_NOT_OURS'
  | 'IDENTITY_MASTER_KEY_MISSING'
  | 'IDENTITY_MASTER_KEY_INVALID'
  | 'IDENTITY_MASTER_KEY_WRONG'
  | 'IDENTITY_INSECURE_PERMISSIONS'
  | 'IDENTITY_KEY_FILE_INVALID'
  | 'IDENTITY_KEY_FILE_TAMPERED'
  | 'IDENTITY_AGENT_NAME_INVALID'
  | 'IDENTITY_AGENT_EXISTS'
  | 'IDENTITY_AGENT_NOT_FOUND'
  | 'IDENTITY_DID_INVALID'
  | 'IDENTITY_BASE58_INVALID'
  /** The nonce store cannot be opened, or its file was removed or replaced under a running process. */
  | 'IDENTITY_NONCE_STORE_UNUSABLE';
