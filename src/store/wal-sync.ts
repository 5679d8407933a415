import { constants, lstatSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storeError } from './errors.js';
import type { Footprint } from './sqlite-footprint.js';

/** What makes bytes already written to a file reach stable storage; the store's tests substitute one. */
export type Datasync = (handle: FileHandle) => Promise<void>;

interface Waiter {
  readonly upto: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The durable point of an SQLite store run with synchronous=NORMAL
 * (docs/store.md, "Durability"): COMMIT appends the transaction's frames to
 * the `-wal` file without an fsync, then the caller waits here for an
 * fdatasync of that file, run in libuv's thread pool, that began after its
 * COMMIT returned. Commits are numbered as they return; one fdatasync covers
 * every commit made before it began, so commits that land while one runs
 * share the next. The event loop never waits for the disk.
 *
 * A failed fdatasync poisons the store for good: after a write-back error
 * Linux may drop the dirty pages and a later fsync would succeed without
 * them, so no later commit can be called durable either (fail closed).
 */
export class WalSync {
  readonly #walPath: string;
  readonly #dbPath: string;
  readonly #datasync: Datasync;
  /** Commits returned by SQLite so far. */
  #committed = 0;
  /** The last commit that wrote each table, and the last one that may have written any table. */
  readonly #lastWrite = new Map<string, number>();
  #lastWriteAll = 0;
  /** Commits known to be on stable storage. */
  #durable = 0;
  #waiters: Waiter[] = [];
  #running: Promise<void> | undefined;
  #failure: unknown;
  #handle: FileHandle | undefined;
  #inode = -1;

  constructor(dbPath: string, datasync: Datasync = (handle) => handle.datasync()) {
    this.#dbPath = dbPath;
    this.#walPath = `${dbPath}-wal`;
    this.#datasync = datasync;
  }

  /** Counts a COMMIT that just returned, which wrote `tables`; its number is what `durable` waits for. */
  committed(tables: Footprint): number {
    this.#committed += 1;
    if (tables === 'all') this.#lastWriteAll = this.#committed;
    else for (const table of tables) this.#lastWrite.set(table, this.#committed);
    return this.#committed;
  }

  /** The last commit that wrote one of `tables`: what a read of them made now could have seen. */
  lastWriteTo(tables: Footprint): number {
    if (tables === 'all') return this.#committed;
    let last = this.#lastWriteAll;
    for (const table of tables) last = Math.max(last, this.#lastWrite.get(table) ?? 0);
    return last;
  }

  /** Throws once an fdatasync has failed: nothing more may run on this store (see the class comment). */
  check(): void {
    if (this.#failure !== undefined) throw this.#poisoned();
  }

  /** Resolves once commit `upto` (and every earlier one) is on stable storage. */
  durable(upto: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#poisoned());
    if (upto <= this.#durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ upto, resolve, reject });
      this.#kick();
    });
  }

  /** Waits for the running fdatasync, then lets the file go. */
  async close(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#waiters.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#waiters.length > 0 && this.#failure === undefined) {
      // Every commit counted before this point has its frames in the file already (COMMIT
      // returned synchronously before it was counted), so this one fdatasync covers them all.
      const upto = this.#committed;
      try {
        await this.#syncOnce();
        this.#durable = Math.max(this.#durable, upto);
      } catch (error) {
        this.#failure = error;
      }
      const waiting = this.#waiters;
      this.#waiters = [];
      for (const waiter of waiting) {
        if (this.#failure !== undefined) waiter.reject(this.#poisoned());
        else if (waiter.upto <= this.#durable) waiter.resolve();
        else this.#waiters.push(waiter);
      }
    }
  }

  async #syncOnce(): Promise<void> {
    // A synchronous stat: the WAL's inode is in the cache, and a thread-pool round trip cost more
    // CPU than the lookup (measured under the gateway bench).
    // lstat and O_NOFOLLOW: SQLite opens its WAL without following a symlink, so must we (a
    // symlink planted at the path would have us sync some other file); one there fails closed.
    const wal = lstatSync(this.#walPath, { throwIfNoEntry: false });
    if (wal === undefined) {
      // No WAL: a checkpoint moved everything into the database file and the WAL went (the
      // last connection closed). Make the database file and its directory entry durable instead.
      await this.#syncFile(this.#dbPath);
      await this.#syncFile(dirname(this.#dbPath));
      return;
    }
    if (this.#handle === undefined || wal.ino !== this.#inode) {
      // A WAL we have not synced before (first commit, or a new file after the old one went):
      // its directory entry must be durable too, or a power cut could lose the whole file.
      await this.#handle?.close().catch(() => undefined);
      this.#handle = undefined;
      const handle = await open(this.#walPath, constants.O_RDONLY | constants.O_NOFOLLOW);
      this.#inode = (await handle.stat()).ino;
      this.#handle = handle;
      await this.#syncFile(dirname(this.#walPath));
    }
    await this.#datasync(this.#handle);
  }

  async #syncFile(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      await this.#datasync(handle);
    } finally {
      await handle.close();
    }
  }

  #poisoned() {
    const reason = this.#failure instanceof Error ? this.#failure.message : String(this.#failure);
    return storeError(
      'STORE_QUERY_FAILED',
      `the SQLite store at ${this.#dbPath} could not make a commit durable (fdatasync failed: ${reason}); restart the gateway once the disk is healthy`,
      this.#failure,
    );
  }
}
