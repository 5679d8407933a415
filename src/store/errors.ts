import { OacpError } from '../core/errors.js';

export type StoreErrorCode =
  | 'STORE_OPEN_FAILED'
  | 'STORE_LOCATION_INVALID'
  | 'STORE_MIGRATION_FAILED'
  | 'STORE_SCHEMA_TOO_NEW'
  | 'STORE_CONFLICT'
  | 'STORE_CLOSED'
  | 'STORE_QUERY_FAILED';

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
