import { join } from 'node:path';
import { storeError } from './errors.js';
import type { PostgresStoreOptions } from './postgres-store.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import type { Store } from './types.js';

export const DEFAULT_STORE_FILE = 'gateway.db';

/** The embedded store's file inside an OACP home. */
export function defaultStorePath(home: string): string {
  return join(home, DEFAULT_STORE_FILE);
}

/**
 * Opens the store named by `--store` / `gateway.store`: a `postgres://` or
 * `postgresql://` URL selects PostgreSQL; `sqlite:PATH` or a plain path
 * selects an SQLite file. The schema is migrated before this resolves.
 */
export type StoreOptions = PostgresStoreOptions & SqliteStoreOptions;

export function openStore(location: string, options: StoreOptions = {}): Promise<Store> {
  const text = location.trim();
  // Loaded only when asked for: the driver is not needed by the bridge or a one-node gateway.
  if (/^postgres(ql)?:\/\//i.test(text))
    return import('./postgres-store.js').then(({ openPostgresStore }) => openPostgresStore(text, options));
  const path = text.startsWith('sqlite:') ? text.slice('sqlite:'.length) : text;
  if (path === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    return Promise.reject(
      storeError(
        'STORE_LOCATION_INVALID',
        `store location "${/^[a-z][a-z0-9+.-]*:\/\//i.test(path) ? path.replace(/\/\/[^@/]*@/, '//***@') : path}" is neither a postgres:// URL nor a file path`,
      ),
    );
  }
  return openSqliteStore(path, options);
}
