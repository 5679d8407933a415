/** Why a client's MCP configuration could not be read, rewritten or restored. */
export type ClientErrorCode =
  | 'CLIENT_UNKNOWN'
  | 'CLIENT_CONFIG_READ'
  | 'CLIENT_CONFIG_FORMAT'
  | 'CLIENT_NO_BACKUP';
