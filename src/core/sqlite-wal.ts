import Database from 'better-sqlite3';

/** How long an open waits for another process making the same file, as SQLite's busy timeout does for writes. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating it if need be) an SQLite file in WAL mode, with a busy timeout, for files that
 * several processes of a home open at once (the nonce store, the gateway store).
 *
 * Switching a new file to WAL needs an exclusive lock, and while another process is making the
 * same file SQLite answers SQLITE_BUSY at once, without calling its busy handler (it would
 * deadlock otherwise): two bridges started together on a fresh home failed that way. The switch
 * is retried until the timeout instead; any other failure is thrown as it is.
 */
export function openWalDatabase(path: string, timeoutMs = SQLITE_BUSY_TIMEOUT_MS): Database.Database {
  const db = new Database(path, { timeout: timeoutMs });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        db.pragma('journal_mode = WAL');
        return db;
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw error;
        pause(5 + Math.random() * 20);
      }
    }
  } catch (error) {
    db.close();
    throw error;
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Sleeps the thread (opening is synchronous; the wait is milliseconds, and only while another process holds the file). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
