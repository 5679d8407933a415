// The gateway's persistent store: one schema, SQLite embedded or PostgreSQL shared (docs/store.md).
export { type Dialect, type DialectName, numberPlaceholders, POSTGRES, SQLITE } from './dialect.js';
export { isUniqueViolation, type StoreErrorCode } from './errors.js';
export { migrate } from './migrate.js';
export { MIGRATIONS, type Migration, SCHEMA_VERSION } from './migrations.js';
export { DEFAULT_STORE_FILE, defaultStorePath, openStore, type StoreOptions } from './open-store.js';
export { openPostgresStore, type PostgresStoreOptions, redactUrl } from './postgres-store.js';
export type { Sql, SqlValue } from './sql.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export {
  acceptStore,
  checkStoreIdentity,
  openRecordedStore,
  recordedStoreId,
  STORE_IDENTITY_FILE,
  type StoreIdentityCheck,
  storeId,
  storeIdentityPath,
} from './store-identity.js';
export type * from './types.js';
