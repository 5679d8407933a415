import { join } from 'node:path';
import { SqliteNonceStore } from './sqlite-nonce-store.js';

/** The one nonce file of an OACP home, shared by every bridge, `oacp run` and gateway on it. */
export function homeNonceStorePath(home: string): string {
  return join(home, 'nonces.db');
}

/**
 * Opens the home's shared nonce store (SQLite, WAL, busy timeout): a signed
 * request seen by any process on the home is a replay for every other one for
 * its whole replay window, across restarts.
 */
export function openHomeNonceStore(home: string): SqliteNonceStore {
  return new SqliteNonceStore(homeNonceStorePath(home));
}
