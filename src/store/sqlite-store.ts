import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { isOacpError } from '../core/errors.js';
import { notOursReason } from '../core/not-ours.js';
import { openWalDatabase } from '../core/sqlite-wal.js';
import { SQLITE } from './dialect.js';
import { type StoreErrorCode, storeError } from './errors.js';
import { migrate } from './migrate.js';
import type { Migration } from './migrations.js';
import { Mutex } from './mutex.js';
import { createRepos, createTransactionRepos } from './repos/index.js';
import type { Sql, SqlValue } from './sql.js';
import {
  Access,
  FOREIGN_KEY_ACTIONS_SQL,
  type Footprint,
  footprintOf,
  SCHEMA_TABLES_SQL,
  SCHEMA_TRIGGERS_SQL,
} from './sqlite-footprint.js';
import type { Repos, Store, TransactionRepos } from './types.js';
import { type Datasync, WalSync } from './wal-sync.js';

/**
 * The embedded store: one SQLite file (by default `<home>/gateway.db`).
 *
 * Durability: WAL with synchronous=NORMAL, and a write's promise resolves only
 * after an fdatasync of the WAL that began after its COMMIT returned (WalSync,
 * run in libuv's thread pool and shared by the commits made meanwhile), so an
 * acknowledged write survives kill -9 and power loss exactly as with
 * synchronous=FULL while the event loop never waits for the disk. A read
 * resolves only once every commit that wrote a table it read is durable, so
 * nothing a power cut could take back is ever shown. docs/store.md has the argument.
 * secure_delete zeroes freed content, so a destroyed salt does not linger in
 * free pages once scrub() has checkpointed the WAL.
 *
 * better-sqlite3 is synchronous and one connection is shared, so every
 * operation runs under a mutex: a caller cannot slip a statement into
 * someone else's open transaction. The wait for the fdatasync is outside the
 * mutex, so the next transaction runs while the disk works.
 */
export interface SqliteStoreOptions {
  /** The migration list; tests substitute one, the gateway uses the shipped MIGRATIONS. */
  readonly migrations?: readonly Migration[];
  /** How a file is made durable; only tests substitute it (to hold a commit's fdatasync back). */
  readonly datasync?: Datasync;
}

export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  let db: Database.Database;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(path, 'a', 0o600));
    }
    db = openWalDatabase(path);
    // NORMAL: COMMIT does not fsync; WalSync does, off the event loop, before anyone is answered.
    // Checkpoints still sync the WAL before and the database after (SQLite's NORMAL semantics).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('secure_delete = ON');
  } catch (error) {
    // The database's own file or its -wal/-shm made by another uid (a home root and a user share).
    const notOurs = [path, `${path}-wal`, `${path}-shm`]
      .map((file) => notOursReason(file, error))
      .find((reason) => reason !== undefined);
    throw storeError(
      'STORE_OPEN_FAILED',
      notOurs ??
        `cannot open the SQLite store at ${path}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  const sync = path === ':memory:' ? undefined : new WalSync(path, options.datasync);
  const store = new SqliteStore(db, path, sync);
  try {
    await migrate(SQLITE, (fn) => store.exclusiveTransaction(fn), options.migrations);
    store.learnSchema();
  } catch (error) {
    // Closing can fail as well (its checkpoint on a file deleted or damaged under another
    // process): that second failure must not hide the first, typed one naming the file.
    await store.close().catch(() => undefined);
    throw openFailure(path, error);
  }
  return store;
}

/** A store error that names the file, whatever step of opening failed. */
function openFailure(path: string, error: unknown) {
  const message = error instanceof Error ? error.message : String(error);
  const code =
    isOacpError(error) && String(error.code).startsWith('STORE_') ? error.code : 'STORE_OPEN_FAILED';
  return storeError(code as StoreErrorCode, `${message} (the SQLite store at ${path})`, error);
}

class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  readonly sql: Sql;
  readonly agents: Repos['agents'];
  readonly context: Repos['context'];
  readonly checkpoints: Repos['checkpoints'];
  readonly accessLog: Repos['accessLog'];
  readonly credentials: Repos['credentials'];
  readonly apiKeys: Repos['apiKeys'];
  readonly quotaBuckets: Repos['quotaBuckets'];
  readonly a2aTasks: Repos['a2aTasks'];
  readonly requestNonces: Repos['requestNonces'];
  readonly securityEvents: Repos['securityEvents'];
  readonly #db: Database.Database;
  readonly #mutex = new Mutex();
  readonly #statements = new Map<string, { statement: Database.Statement; footprint: Footprint }>();
  /** Undefined for an in-memory store, which has nothing to make durable. */
  readonly #sync: WalSync | undefined;
  /**
   * The schema's tables, once known to be written only by statements that name them (no
   * triggers, no foreign-key actions): then a read waits only for commits to the tables it
   * names. Undefined until then: every statement counts as touching every table.
   */
  #tables: ReadonlySet<string> | undefined;
  #closed = false;

  constructor(db: Database.Database, location: string, sync: WalSync | undefined) {
    this.#db = db;
    this.location = location;
    this.#sync = sync;
    this.sql = {
      all: (text, params) => this.#durably((access) => this.#directSql(() => true, access).all(text, params)),
      get: (text, params) => this.#durably((access) => this.#directSql(() => true, access).get(text, params)),
      run: (text, params) => this.#durably((access) => this.#directSql(() => true, access).run(text, params)),
    };
    const repos = createRepos(this.sql, SQLITE);
    this.agents = repos.agents;
    this.context = repos.context;
    this.checkpoints = repos.checkpoints;
    this.accessLog = repos.accessLog;
    this.credentials = repos.credentials;
    this.apiKeys = repos.apiKeys;
    this.quotaBuckets = repos.quotaBuckets;
    this.a2aTasks = repos.a2aTasks;
    this.requestNonces = repos.requestNonces;
    this.securityEvents = repos.securityEvents;
  }

  async schemaVersion(): Promise<number> {
    const row = await this.sql.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    return row?.v ?? 0;
  }

  transaction<T>(fn: (tx: TransactionRepos) => Promise<T>): Promise<T> {
    return this.#durably((access) =>
      this.#inTransaction(access, (sql) => fn(createTransactionRepos(sql, SQLITE))),
    );
  }

  /** For migrate(): a transaction handing out raw Sql. */
  exclusiveTransaction(fn: (sql: Sql) => Promise<void>): Promise<void> {
    return this.#durably((access) => this.#inTransaction(access, fn));
  }

  /**
   * Called once migrated: reads may wait only for the tables they name if no write can reach a
   * table it does not name (src/store/sqlite-footprint.ts); otherwise they keep waiting for all.
   */
  learnSchema(): void {
    const triggers = this.#db.prepare(SCHEMA_TRIGGERS_SQL).get() as { n: number };
    const actions = this.#db.prepare(FOREIGN_KEY_ACTIONS_SQL).get() as { n: number };
    if (triggers.n > 0 || actions.n > 0) return;
    const rows = this.#db.prepare(SCHEMA_TABLES_SQL).all() as { name: string }[];
    this.#tables = new Set(rows.map((row) => row.name));
    // Footprints taken before the schema was known said 'all'; compute them again.
    this.#statements.clear();
  }

  scrub(): Promise<void> {
    // A checkpoint syncs the WAL before it copies and the database after; nothing is left to wait for.
    return this.#durably(async () => {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    });
  }

  async close(): Promise<void> {
    await this.#mutex
      .run(async () => {
        if (this.#closed) return;
        this.#closed = true;
        try {
          this.#db.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          this.#db.close();
        }
      })
      .finally(() => this.#sync?.close());
  }

  async #inTransaction<T>(access: Access, fn: (sql: Sql) => Promise<T>): Promise<T> {
    let open = true;
    const sql = this.#directSql(() => open, access);
    // IMMEDIATE takes the write lock now, so a transaction never fails half-way on a lock upgrade.
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(sql);
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      open = false;
    }
  }

  /**
   * Runs `fn` under the mutex, then (outside it) waits until what it did, and every commit it
   * could have read, is durable. `writes`: `fn` may commit (a transaction, an autocommit
   * statement); a failed `fn` committed nothing of its own but may have read others' commits.
   */
  async #durably<T>(fn: (access: Access) => Promise<T>): Promise<T> {
    let upto = 0;
    const result = await this.#mutex
      .run(async () => {
        if (this.#closed) throw storeError('STORE_CLOSED', `the SQLite store at ${this.location} is closed`);
        const sync = this.#sync;
        // After a failed fdatasync nothing runs: a write applied now could not be called durable.
        sync?.check();
        const access = new Access();
        try {
          const value = await fn(access);
          // A write's own fdatasync covers every earlier commit, whatever it read.
          if (sync !== undefined)
            upto = access.wrote ? sync.committed(access.writes) : sync.lastWriteTo(access.reads);
          return { ok: true as const, value };
        } catch (error) {
          // Nothing of its own committed, but what it saw (a row that exists) may be another's commit.
          if (sync !== undefined) upto = sync.lastWriteTo(access.seen);
          return { ok: false as const, error };
        }
      })
      .catch((error: unknown) => ({ ok: false as const, error }));
    if (upto > 0) await this.#sync?.durable(upto);
    if (!result.ok) throw result.error;
    return result.value;
  }

  /** Statements run through it are counted in `access`: reads by all/get, writes by run. */
  #directSql(isOpen: () => boolean, access: Access): Sql {
    const prepare = (text: string, kind: 'read' | 'write'): Database.Statement => {
      if (!isOpen()) {
        throw storeError('STORE_CLOSED', 'a transaction was used after it ended; use the store instead');
      }
      let prepared = this.#statements.get(text);
      if (prepared === undefined) {
        const footprint = this.#tables === undefined ? 'all' : footprintOf(text, this.#tables);
        prepared = { statement: this.#db.prepare(text), footprint };
        this.#statements.set(text, prepared);
      }
      // Counted before it runs: a statement that fails half-way may still have shown or changed something.
      if (kind === 'write' || !prepared.statement.readonly) access.write(prepared.footprint);
      else access.read(prepared.footprint);
      return prepared.statement;
    };
    return {
      all: async <T>(text: string, params: readonly SqlValue[] = []) =>
        prepare(text, 'read').all(...bind(params)) as T[],
      get: async <T>(text: string, params: readonly SqlValue[] = []) =>
        prepare(text, 'read').get(...bind(params)) as T | undefined,
      run: async (text, params = []) => {
        const statement = prepare(text, 'write');
        // INSERT ... RETURNING is a reader; run() would refuse it, so step through it instead.
        if (statement.reader) return statement.all(...bind(params)).length;
        return statement.run(...bind(params)).changes;
      },
    };
  }
}

function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((value) =>
    value instanceof Uint8Array && !Buffer.isBuffer(value)
      ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      : value,
  );
}
