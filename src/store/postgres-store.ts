import pg from 'pg';
import { numberPlaceholders, POSTGRES } from './dialect.js';
import { isConnectionFailure, storeError } from './errors.js';
import { migrate } from './migrate.js';
import type { Migration } from './migrations.js';
import { redactUrl } from './redact.js';
import { createRepos, createTransactionRepos } from './repos/index.js';
import type { Sql, SqlValue } from './sql.js';
import type { Repos, Store, TransactionRepos } from './types.js';

export interface PostgresStoreOptions {
  /** Connections in the pool; default 10. */
  readonly maxConnections?: number;
  /**
   * How long a connection attempt or a query may take before it fails (ms;
   * default 5000 and 30000): a server that is gone or partitioned must turn
   * into an error the caller can refuse on, not a request that hangs.
   */
  readonly connectTimeoutMs?: number;
  readonly queryTimeoutMs?: number;
  /** The migration list; tests substitute one, the gateway uses the shipped MIGRATIONS. */
  readonly migrations?: readonly Migration[];
}

const INT8_OID = 20;
// Any constant works; it only has to be the same for every OACP process migrating this database.
const MIGRATION_LOCK_KEY = 0x0acb_5701;

/**
 * The shared store: a PostgreSQL database (`--store postgres://...`), for
 * several gateway processes or a managed database. Same schema, same
 * migrations and same repository SQL as SQLite; `?` placeholders are
 * numbered for pg, and BIGINT comes back as a JS number (refusing values
 * beyond 2^53 rather than rounding them).
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const location = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // An idle client losing its server must not crash the gateway; the next query reports the error.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw storeError(
      'STORE_OPEN_FAILED',
      `cannot connect to the PostgreSQL store at ${location}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  const store = new PostgresStore(pool, location);
  try {
    await migrate(
      POSTGRES,
      (fn) =>
        store.rawTransaction(async (sql) => {
          await sql.run('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
          await fn(sql);
        }),
      options.migrations,
    );
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
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
  readonly #pool: pg.Pool;
  #closed = false;

  constructor(pool: pg.Pool, location: string) {
    this.#pool = pool;
    this.location = location;
    this.sql = queryableSql(() => {
      if (this.#closed) throw storeError('STORE_CLOSED', `the PostgreSQL store at ${location} is closed`);
      return this.#pool;
    }, location);
    const repos = createRepos(this.sql, POSTGRES);
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
    return this.rawTransaction((sql) => fn(createTransactionRepos(sql, POSTGRES)));
  }

  async rawTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.#closed) throw storeError('STORE_CLOSED', `the PostgreSQL store at ${this.location} is closed`);
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw unavailable(error, this.location);
    });
    let open = true;
    const sql = queryableSql(() => {
      if (!open)
        throw storeError('STORE_CLOSED', 'a transaction was used after it ended; use the store instead');
      return client;
    }, this.location);
    let broken: Error | undefined;
    // The server can drop the connection between two statements (terminated, failover): pg then
    // emits 'error' on the checked-out client, which would crash the process unheard. The next
    // statement fails with the reason, and the connection is destroyed rather than reused.
    const dropped = (error: Error) => {
      broken = error;
    };
    client.on('error', dropped);
    try {
      await client.query('BEGIN');
      const result = await fn(sql);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      open = false;
      client.removeListener('error', dropped);
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
      client.release(broken);
    }
  }

  async scrub(): Promise<void> {
    // VACUUM cannot run inside a transaction block, so it goes straight to the pool.
    await this.sql.run('VACUUM context_partitions');
    await this.sql.run('VACUUM context_entries');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function queryableSql(target: () => pg.Pool | pg.PoolClient, location: string): Sql {
  const query = async (text: string, params: readonly SqlValue[] = []) => {
    try {
      return await target().query(numberPlaceholders(text), bind(params));
    } catch (error) {
      throw unavailable(error, location);
    }
  };
  return {
    all: async <T>(text: string, params?: readonly SqlValue[]) => (await query(text, params)).rows as T[],
    get: async <T>(text: string, params?: readonly SqlValue[]) =>
      (await query(text, params)).rows[0] as T | undefined,
    run: async (text, params) => {
      const result = await query(text, params);
      return result.rowCount ?? 0;
    },
  };
}

/** A connection failure as STORE_UNAVAILABLE naming the (password-free) location; anything else unchanged. */
function unavailable(error: unknown, location: string): unknown {
  if (!isConnectionFailure(error)) return error;
  const why = error instanceof Error ? error.message : String(error);
  return storeError('STORE_UNAVAILABLE', `the PostgreSQL store at ${location} did not answer: ${why}`, error);
}

function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((value) =>
    value instanceof Uint8Array && !Buffer.isBuffer(value)
      ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      : value,
  );
}

function typeParser(oid: number, format?: string): unknown {
  if (oid === INT8_OID && format !== 'binary') {
    return (text: string) => {
      const value = Number(text);
      if (!Number.isSafeInteger(value)) {
        throw storeError(
          'STORE_QUERY_FAILED',
          `a BIGINT value ${text} is beyond 2^53 and cannot be read exactly`,
        );
      }
      return value;
    };
  }
  return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format as 'text');
}

export { redactUrl };
