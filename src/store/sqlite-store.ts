import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE } from './dialect.js';
import { storeError } from './errors.js';
import { migrate } from './migrate.js';
import type { Migration } from './migrations.js';
import { Mutex } from './mutex.js';
import { createRepos, createTransactionRepos } from './repos/index.js';
import type { Sql, SqlValue } from './sql.js';
import type { Repos, Store, TransactionRepos } from './types.js';

/**
 * The embedded store: one SQLite file (by default `<home>/gateway.db`).
 *
 * Durability: WAL with synchronous=FULL, so a write is on disk (the WAL is
 * fsynced) before its promise resolves and survives kill -9 and power loss.
 * secure_delete zeroes freed content, so a destroyed salt does not linger in
 * free pages once scrub() has checkpointed the WAL.
 *
 * better-sqlite3 is synchronous and one connection is shared, so every
 * operation runs under a mutex: a caller cannot slip a statement into
 * someone else's open transaction.
 */
export interface SqliteStoreOptions {
  /** The migration list; tests substitute one, the gateway uses the shipped MIGRATIONS. */
  readonly migrations?: readonly Migration[];
}

export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  let db: Database.Database;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(path, 'a', 0o600));
    }
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('secure_delete = ON');
    db.pragma('busy_timeout = 5000');
  } catch (error) {
    throw storeError(
      'STORE_OPEN_FAILED',
      `cannot open the SQLite store at ${path}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  const store = new SqliteStore(db, path);
  try {
    await migrate(SQLITE, (fn) => store.exclusiveTransaction(fn), options.migrations);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
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
  readonly #statements = new Map<string, Database.Statement>();
  #closed = false;

  constructor(db: Database.Database, location: string) {
    this.#db = db;
    this.location = location;
    const direct = this.#directSql(() => true);
    this.sql = {
      all: (text, params) => this.#locked(() => direct.all(text, params)),
      get: (text, params) => this.#locked(() => direct.get(text, params)),
      run: (text, params) => this.#locked(() => direct.run(text, params)),
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
    return this.#locked(() => this.#inTransaction((sql) => fn(createTransactionRepos(sql, SQLITE))));
  }

  /** For migrate(): a transaction handing out raw Sql. */
  exclusiveTransaction(fn: (sql: Sql) => Promise<void>): Promise<void> {
    return this.#locked(() => this.#inTransaction(fn));
  }

  scrub(): Promise<void> {
    return this.#locked(async () => {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    });
  }

  async close(): Promise<void> {
    await this.#mutex.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      try {
        this.#db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        this.#db.close();
      }
    });
  }

  async #inTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    let open = true;
    const sql = this.#directSql(() => open);
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

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      if (this.#closed) throw storeError('STORE_CLOSED', `the SQLite store at ${this.location} is closed`);
      return fn();
    });
  }

  #directSql(isOpen: () => boolean): Sql {
    const prepare = (text: string): Database.Statement => {
      if (!isOpen()) {
        throw storeError('STORE_CLOSED', 'a transaction was used after it ended; use the store instead');
      }
      let statement = this.#statements.get(text);
      if (statement === undefined) {
        statement = this.#db.prepare(text);
        this.#statements.set(text, statement);
      }
      return statement;
    };
    return {
      all: async <T>(text: string, params: readonly SqlValue[] = []) =>
        prepare(text).all(...bind(params)) as T[],
      get: async <T>(text: string, params: readonly SqlValue[] = []) =>
        prepare(text).get(...bind(params)) as T | undefined,
      run: async (text, params = []) => {
        const statement = prepare(text);
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
