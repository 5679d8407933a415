/**
 * Which tables a statement can read or write, from its text: every word of the
 * text that is the name of a table of the schema. An over-approximation (a
 * column that shares a table's name adds that table) only makes a read wait
 * longer; a statement that names no table at all (a PRAGMA, `SELECT 1`, DDL of
 * a new table) is taken to touch every table.
 *
 * The store uses it so a read waits only for the commits that wrote a table it
 * read (src/store/sqlite-store.ts). That is sound only while a write changes
 * nothing but the tables its text names: no triggers and no foreign-key
 * actions (ON DELETE / ON UPDATE other than NO ACTION or RESTRICT). The store
 * checks that on open with `schemaWritesOnlyNamedTables` and otherwise makes
 * every read wait for every commit.
 */
export type Footprint = ReadonlySet<string> | 'all';

export function footprintOf(text: string, tables: ReadonlySet<string>): Footprint {
  // Savepoint bookkeeping inside a transaction touches no table of its own.
  if (/^\s*(savepoint|release|rollback\s+to)\s/i.test(text)) return new Set();
  const named = new Set<string>();
  for (const word of text.toLowerCase().match(/[a-z_][a-z0-9_]*/g) ?? []) {
    if (tables.has(word)) named.add(word);
  }
  return named.size === 0 ? 'all' : named;
}

/** What one store operation read and wrote, gathered statement by statement. */
export class Access {
  reads: Set<string> | 'all' = new Set();
  writes: Set<string> | 'all' = new Set();
  wrote = false;

  read(footprint: Footprint): void {
    this.reads = union(this.reads, footprint);
  }

  write(footprint: Footprint): void {
    this.wrote = true;
    this.writes = union(this.writes, footprint);
  }

  /** Every table the operation saw, written ones included (a failed write can still tell what exists). */
  get seen(): Footprint {
    if (this.reads === 'all' || this.writes === 'all') return 'all';
    return new Set([...this.reads, ...this.writes]);
  }
}

function union(into: Set<string> | 'all', footprint: Footprint): Set<string> | 'all' {
  if (into === 'all' || footprint === 'all') return 'all';
  for (const table of footprint) into.add(table);
  return into;
}

/** The SQL that lists the schema's tables (lower case) and what could make a write reach an unnamed table. */
export const SCHEMA_TABLES_SQL = "SELECT lower(name) AS name FROM sqlite_master WHERE type = 'table'";
export const SCHEMA_TRIGGERS_SQL = "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger'";
export const FOREIGN_KEY_ACTIONS_SQL =
  "SELECT COUNT(*) AS n FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table' AND (upper(f.on_delete) NOT IN ('NO ACTION', 'RESTRICT') OR upper(f.on_update) NOT IN ('NO ACTION', 'RESTRICT'))";
