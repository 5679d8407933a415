import { OacpError } from '../core/errors.js';

/**
 * Every way the transparency log can refuse or fail. Parsers throw `LOG_MALFORMED_*`;
 * verifiers return a `Verdict` carrying one of these codes; the durable log throws the rest.
 */
export const LOG_ERROR_CODES = [
  'LOG_MALFORMED_NOTE',
  'LOG_MALFORMED_VKEY',
  'LOG_MALFORMED_CHECKPOINT',
  'LOG_MALFORMED_PROOF_FILE',
  'LOG_MALFORMED_PROOF',
  'LOG_UNTRUSTED_NOTE',
  'LOG_BAD_SIGNATURE',
  'LOG_ORIGIN_MISMATCH',
  'LOG_INCLUSION_FAILED',
  'LOG_CONSISTENCY_FAILED',
  'LOG_COSIGNATURE_FAILED',
  'LOG_OUT_OF_RANGE',
  'LOG_ENTRY_TOO_LARGE',
  'LOG_CORRUPT',
  'LOG_CLOSED',
  'LOG_FAILED',
  'LOG_WITNESS_ROLLBACK',
  'LOG_WITNESS_FORK',
  'LOG_WITNESS_STATE',
  'LOG_FORK',
  'LOG_SIGNED_STATE',
] as const;

export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

export type LogError = OacpError<LogErrorCode>;

export function logError(code: LogErrorCode, message: string, cause?: unknown): LogError {
  return new OacpError<LogErrorCode>(code, message, cause === undefined ? undefined : { cause });
}

export function isLogErrorCode(code: string): code is LogErrorCode {
  return (LOG_ERROR_CODES as readonly string[]).includes(code);
}
