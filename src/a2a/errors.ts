import { OacpError } from '../core/errors.js';

/** Every way the A2A layer can refuse, so callers switch on `code`, not on messages. */
export type A2aErrorCode =
  | 'A2A_CARD_FETCH_FAILED'
  | 'A2A_CARD_INVALID'
  | 'A2A_KEY_INVALID'
  | 'A2A_ENCRYPTION_FAILED'
  | 'A2A_DECRYPTION_FAILED'
  | 'A2A_SEND_FAILED'
  | 'A2A_RESPONSE_INVALID'
  | 'A2A_TRUST_GRAPH_INVALID'
  | 'A2A_OPTIONS_INVALID'
  /** A request names an agent this node does not serve over A2A. */
  | 'A2A_AGENT_UNKNOWN';

export function a2aError(code: A2aErrorCode, message: string, cause?: unknown): OacpError<A2aErrorCode> {
  return new OacpError(code, message, cause === undefined ? undefined : { cause });
}
