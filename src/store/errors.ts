import { OacpError } from '../core/errors.js';

export type StoreErrorCode =
  | 'STORE_OPEN_FAILED'
  | 'STORE_LOCATION_INVALID'
  | 'STORE_MIGRATION_FAILED'
  | 'STORE_SCHEMA_TOO_NEW'
  | 'STORE_CONFLICT'
  | 'STORE_CLOSED'
  /** The server could not be reached or dropped the connection: nothing was decided. */
  | 'STORE_UNAVAILABLE'
  | 'STORE_QUERY_FAILED'
  /** The store is not the one the home recorded (deleted or replaced): refused until the operator accepts it. */
  | 'STORE_REPLACED';

export function storeError(
  code: StoreErrorCode,
  message: string,
  cause?: unknown,
): OacpError<StoreErrorCode> {
  return new OacpError<StoreErrorCode>(code, message, cause === undefined ? undefined : { cause });
}

/**
 * Unique and primary-key violations from either driver, so repositories can
 * turn "that row already exists" into STORE_CONFLICT whatever the backend.
 */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = String((error as { code: unknown }).code);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Failures that say the server is not there (refused, timed out, dropped,
 * shutting down), as opposed to a query the server answered with an error.
 * SQLSTATE classes 08 (connection exception) and 57 (operator intervention).
 */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = 'code' in error ? String((error as { code: unknown }).code) : '';
  if (/^(08|57)/.test(code)) return true;
  if (/^E(CONNREFUSED|CONNRESET|HOSTUNREACH|NETUNREACH|PIPE|TIMEDOUT|NOTFOUND)$/.test(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout/i.test(message);
}
