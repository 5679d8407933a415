import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { notOursReason } from '../core/not-ours.js';
import { storeError } from './errors.js';
import { defaultStorePath, openStore, type StoreOptions } from './open-store.js';
import type { Store } from './types.js';

/**
 * A home remembers which store it uses: the id the store made for itself
 * (migration 10), by location, in `<home>/store-identity.json`. Quota buckets
 * start full when missing, so a store deleted, or replaced by an empty one,
 * while no process ran would hand out every window again at the next start.
 * With the record, that start refuses (STORE_REPLACED) until the operator
 * accepts the store found there (`oacp store accept`).
 *
 * The record guards against a store lost by accident or by someone who can
 * reach the store but not the home (a shared PostgreSQL dropped and created
 * again, a volume for gateway.db restored empty); whoever can write the home
 * can also delete the record (docs/quotas.md, "A store that was replaced").
 */
export const STORE_IDENTITY_FILE = 'store-identity.json';

const RecordFile = z
  .object({
    version: z.literal(1),
    stores: z.record(
      z.string(),
      z.object({ id: z.string().regex(/^[0-9a-f]{32}$/), recordedAt: z.string() }).strict(),
    ),
  })
  .strict();
type RecordFile = z.infer<typeof RecordFile>;

export type StoreIdentityCheck =
  /** The store is the one the home recorded. */
  | { readonly state: 'same'; readonly id: string }
  /** The home had no record of this location: it has one now. */
  | { readonly state: 'recorded'; readonly id: string }
  /** Another store than the one the home recorded: refuse, with the reason. */
  | { readonly state: 'replaced'; readonly id: string; readonly recorded: string; readonly reason: string };

export function storeIdentityPath(home: string): string {
  return join(home, STORE_IDENTITY_FILE);
}

/** The key a location is recorded under: an SQLite file by its absolute path, a server by its URL without password. */
function locationKey(store: Pick<Store, 'dialect' | 'location'>): string {
  if (store.dialect !== 'sqlite') return store.location;
  const path = store.location.replace(/^sqlite:/, '');
  return isAbsolute(path) ? path : resolve(path);
}

/** The id the store made for itself when it was made. */
export async function storeId(store: Store): Promise<string> {
  const row = await store.sql.get<{ id: string }>('SELECT id FROM store_identity');
  if (row === undefined)
    throw storeError(
      'STORE_QUERY_FAILED',
      `the store at ${store.location} has no identity row (schema 10 or later makes one)`,
    );
  return row.id;
}

/**
 * Checks the store against the home's record, recording it when the home had
 * none for this location. Read-only when `record` is false (`oacp doctor`).
 */
export async function checkStoreIdentity(
  home: string,
  store: Store,
  options: { readonly record?: boolean } = {},
): Promise<StoreIdentityCheck> {
  const id = await storeId(store);
  // An in-memory store is new at every start by design: nothing to remember.
  if (store.dialect === 'sqlite' && store.location.replace(/^sqlite:/, '') === ':memory:')
    return { state: 'same', id };
  const file = readRecord(home);
  const key = locationKey(store);
  const recorded = file.stores[key]?.id;
  if (recorded === id) return { state: 'same', id };
  if (recorded !== undefined)
    return { state: 'replaced', id, recorded, reason: replacedReason(home, store.location, recorded, id) };
  if (options.record !== false) writeRecord(home, withEntry(file, key, id));
  return { state: 'recorded', id };
}

/**
 * Opens the store at `location` for a home: the one way a command or a server
 * on a home opens its gateway store, so none uses a deleted or replaced store
 * without the check (STORE_REPLACED, closed again). `record: false` checks
 * without recording a store the home had no record of (`oacp doctor`).
 */
export async function openRecordedStore(
  home: string,
  location: string,
  options: StoreOptions & { readonly record?: boolean } = {},
): Promise<Store> {
  const { record, ...storeOptions } = options;
  const store = await openStore(location, storeOptions);
  try {
    const check = await checkStoreIdentity(home, store, record === false ? { record } : {});
    if (check.state === 'replaced') throw storeError('STORE_REPLACED', check.reason);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

/** The operator's word that the store found at the location is the one to use from now on. */
export async function acceptStore(
  home: string,
  store: Store,
): Promise<{ readonly previous?: string; readonly id: string }> {
  const id = await storeId(store);
  const file = readRecord(home);
  const key = locationKey(store);
  const previous = file.stores[key]?.id;
  writeRecord(home, withEntry(file, key, id));
  return previous === undefined ? { id } : { previous, id };
}

/** The id recorded for an SQLite file or server URL, without opening the store (which would make one). */
export function recordedStoreId(
  home: string,
  location: Pick<Store, 'dialect' | 'location'>,
): string | undefined {
  return readRecord(home).stores[locationKey(location)]?.id;
}

function replacedReason(home: string, location: string, recorded: string, found: string): string {
  return (
    `the store at ${location} is not the one this home last used (the home recorded store ${recorded.slice(0, 12)}, ` +
    `the store there is ${found.slice(0, 12)}): it was deleted or replaced, and every quota window in it would start full; ` +
    `if that is intended, accept it with \`oacp --home ${home} store accept${storeFlag(home, location)}\``
  );
}

/** The `--store` the accept command needs: none for the home's own gateway.db; a server's URL with its password left to the operator. */
function storeFlag(home: string, location: string): string {
  if (location.includes('://')) return ' --store URL';
  const path = location.replace(/^sqlite:/, '');
  return resolve(path) === resolve(defaultStorePath(home)) ? '' : ` --store ${path}`;
}

function withEntry(file: RecordFile, key: string, id: string): RecordFile {
  return { version: 1, stores: { ...file.stores, [key]: { id, recordedAt: new Date().toISOString() } } };
}

function readRecord(home: string): RecordFile {
  const path = storeIdentityPath(home);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, stores: {} };
    throw storeError(
      'STORE_OPEN_FAILED',
      notOursReason(path, error, home) ?? `cannot read ${path}: ${(error as Error).message}`,
      error,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = RecordFile.safeParse(parsed);
  if (!result.success)
    throw storeError(
      'STORE_OPEN_FAILED',
      `${path} is damaged (not the home's record of its stores); the stores it named cannot be checked`,
    );
  return result.data;
}

/** Written whole and renamed over the old record, so a kill -9 leaves the old record or the new one. */
function writeRecord(home: string, file: RecordFile): void {
  const path = storeIdentityPath(home);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw storeError(
      'STORE_OPEN_FAILED',
      notOursReason(path, error, home) ??
        notOursReason(temp, error, home) ??
        `cannot write ${path}: ${(error as Error).message}`,
      error,
    );
  }
}
