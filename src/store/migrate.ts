import type { Dialect } from './dialect.js';
import { storeError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import type { Sql } from './sql.js';

/** Runs `fn` in one transaction holding the backend's migration lock. */
export type MigrationTransaction = (fn: (sql: Sql) => Promise<void>) => Promise<void>;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/**
 * Applies every migration the store lacks, in order, all in one transaction:
 * either the store reaches SCHEMA_VERSION or it is left as it was. Running it
 * again is a no-op. A store written by a newer OACP (a version we do not know)
 * is refused rather than used with a schema we cannot read.
 */
export async function migrate(
  dialect: Dialect,
  inTransaction: MigrationTransaction,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => Date = () => new Date(),
): Promise<number> {
  let version = 0;
  try {
    await inTransaction(async (sql) => {
      await sql.run(CREATE_TABLE);
      const applied = await sql.all<{ version: number }>('SELECT version FROM schema_migrations');
      const known = new Set(migrations.map((m) => m.version));
      const unknown = applied.filter((row) => !known.has(row.version));
      if (unknown.length > 0) {
        throw storeError(
          'STORE_SCHEMA_TOO_NEW',
          `the store has schema version ${Math.max(...unknown.map((row) => row.version))}, newer than this OACP knows (${Math.max(0, ...known)}); upgrade OACP`,
        );
      }
      const done = new Set(applied.map((row) => row.version));
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(migration.version)) continue;
        for (const statement of migration.statements(dialect)) await sql.run(statement);
        await sql.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
          migration.version,
          migration.name,
          now().toISOString(),
        ]);
      }
      const row = await sql.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
      version = row?.v ?? 0;
    });
  } catch (error) {
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('STORE_')) throw error;
    throw storeError(
      'STORE_MIGRATION_FAILED',
      `cannot migrate the ${dialect.name} store: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  return version;
}
