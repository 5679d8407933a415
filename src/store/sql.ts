/** A value a query can bind: both drivers map these the same way. */
export type SqlValue = string | number | Uint8Array | null;

/**
 * The one thing repositories need from a backend: run SQL written with `?`
 * placeholders and get plain rows back (INTEGER/BIGINT as number, BLOB/BYTEA
 * as Uint8Array). A transaction hands its repositories an Sql bound to it.
 */
export interface Sql {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}
