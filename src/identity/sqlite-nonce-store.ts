import { type Stats, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { OacpError } from '../core/errors.js';
import { openWalDatabase } from '../core/sqlite-wal.js';
import type { IdentityErrorCode } from './errors.js';
import { NONCE_PRUNE_GRACE_MS, type NonceStore, type NonceStoreOptions } from './nonce-store.js';

/**
 * A nonce cache in a SQLite file, so a restart (or a power cut) does not reopen the replay window.
 * Several processes may share the file: the upsert below is one atomic statement,
 * and WAL lets readers and the single writer proceed without blocking each other. Each process
 * sweeps by its own clock, so a sweep keeps rows NONCE_PRUNE_GRACE_MS past their expiry: a
 * process whose clock runs ahead cannot delete a nonce the others still hold live.
 *
 * The file is the memory: if it is removed or replaced while a process holds it open, that
 * process would go on remembering in a file no other process reads (and a new process on the
 * home in one that knows nothing this one accepted). So each check first makes sure the path
 * still names the file opened, and refuses (throws) otherwise; so does a file that cannot be
 * opened, naming it.
 */
export class SqliteNonceStore implements NonceStore {
  readonly #db: Database.Database;
  readonly #remember: Database.Statement<[string, number, number]>;
  readonly #prune: Database.Statement<[number]>;
  readonly #count: Database.Statement<[], { n: number }>;
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  #nextPrune = 0;

  readonly #path: string;
  /** Device and inode of the file opened; undefined for ':memory:'. */
  readonly #file: Pick<Stats, 'dev' | 'ino'> | undefined;

  constructor(path: string, options: NonceStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    this.#path = path;
    let opened: Database.Database | undefined;
    try {
      opened = openWalDatabase(path);
      this.#db = opened;
      // FULL: a nonce is on disk before the request it guards is accepted, so a power cut cannot
      // reopen the replay window (WAL's default, NORMAL, may lose the last commits).
      this.#db.pragma('synchronous = FULL');
      this.#db.exec(
        'CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;' +
          'CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);',
      );
      // Inserts a new nonce, or takes over an expired row not yet pruned; a live row is left alone (0 changes).
      this.#remember = this.#db.prepare(
        'INSERT INTO nonces (nonce, expires_at) VALUES (?, ?) ' +
          'ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?',
      );
      this.#prune = this.#db.prepare('DELETE FROM nonces WHERE expires_at <= ?');
      this.#count = this.#db.prepare('SELECT count(*) AS n FROM nonces');
      this.#file = path === ':memory:' ? undefined : statSync(path);
    } catch (error) {
      // Unset when the open itself failed; otherwise let the damaged file go.
      opened?.close();
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_NONCE_STORE_UNUSABLE',
        `cannot open the nonce store at ${path}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  checkAndRemember(nonce: string, expiresAt: number): boolean {
    this.#sameFile();
    const now = this.#now();
    if (now >= this.#nextPrune) {
      this.#prune.run(now - NONCE_PRUNE_GRACE_MS);
      this.#nextPrune = now + this.#pruneIntervalMs;
    }
    return this.#remember.run(nonce, Math.floor(expiresAt), now).changes === 1;
  }

  /** Rows held, expired ones not yet swept (or within the grace) included; shows pruning works. */
  get size(): number {
    return this.#count.get()?.n ?? 0;
  }

  /** SQLite's synchronous level on this connection (2 = FULL); shows a nonce is fsynced when remembered. */
  get synchronous(): number {
    return Number(this.#db.pragma('synchronous', { simple: true }));
  }

  close(): void {
    this.#db.close();
  }

  /** Throws unless the path still names the file this store opened. */
  #sameFile(): void {
    if (this.#file === undefined) return;
    const now = statSync(this.#path, { throwIfNoEntry: false });
    if (now?.dev === this.#file.dev && now.ino === this.#file.ino) return;
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_NONCE_STORE_UNUSABLE',
      `the nonce store at ${this.#path} was ${now === undefined ? 'removed' : 'replaced'} since this process opened it, so nonces it accepts would be unseen by other processes; restart this process to use the file there now`,
    );
  }
}
