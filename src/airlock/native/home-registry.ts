import { type Dirent, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { entryExists } from '../../core/entry-exists.js';
import { homeMarkers } from '../../identity/home-layout.js';
import {
  accountRegistry,
  invokerHome,
  isOacpHome,
  readRegistry,
  SYSTEM_HOME_REGISTRY,
} from '../../identity/home-registry.js';
import { accountHomes } from './account-homes.js';

// What sandbox starts read of the registry of OACP homes that `KeyStore.init` writes
// (src/identity/home-registry.ts): the homes it lists, and the registries no sandbox may write.

/**
 * The registries starts read: the host's, every account's, and the invoker's under `$HOME`
 * (`accounts`: the account homes, when the caller has just read them). The invoker's home is
 * often listed twice (by uid and in the table): each registry is listed once.
 */
function registries(accounts: readonly string[] = accountHomes()): Set<string> {
  const invoker = invokerHome();
  return new Set([
    SYSTEM_HOME_REGISTRY,
    ...[...accounts, ...(invoker === undefined ? [] : [invoker])].map(accountRegistry),
  ]);
}

/**
 * The registries that exist, each by name and real path: no sandbox may write one. A workload
 * given `~/.config:rw` deleted the entries, and a later grant far above a registered home showed
 * its master key.
 */
export function existingRegistries(): string[] {
  const found = new Set<string>();
  for (const registry of registries()) {
    // Most accounts have none: skipped without realpath's thrown ENOENT.
    if (!entryExists(registry)) continue;
    try {
      found.add(realpathSync(registry));
      found.add(registry);
    } catch {
      // None here: nothing a sandbox could delete.
    }
  }
  return [...found];
}

/**
 * Every home listed in a registry readable here, each once (root's own registry repeats the
 * host's), whether or not it is still a home: the caller judges each by its markers
 * (accountOacpHomePaths does, at the real path). `accounts`: the account homes, when the caller
 * has just read them.
 */
export function listedOacpHomes(accounts: readonly string[] = accountHomes()): string[] {
  const listed = new Set<string>();
  for (const registry of registries(accounts))
    for (const { home } of readRegistry(registry)) listed.add(resolve(home));
  return [...listed];
}

/** Entries read below a grant at most: a bounded look, not a walk of the tree (the registry covers deeper homes). */
const MAX_SCANNED = 4096;

/**
 * Directories the look below a grant never enters: a package's dependencies are no OACP home, and
 * a `node_modules` holds thousands of entries (server-memory's: 4,261), which spent the whole
 * budget (and 30 ms of every `oacp mcp run` start, twice) before a home beside it was reached.
 * A home someone keeps inside `node_modules` is found by the registry.
 */
const NOT_ENTERED = new Set(['node_modules']);

/**
 * An OACP home that a grant of `name` would show, found by its marker files: `name` itself or one
 * of its ancestors, or a directory at most two levels below it. The grant and what lies below it
 * are read through `at` (the descriptor the sandbox binds, as /proc/self/fd/N), so what is checked
 * is what is bound; names are reported under `name`. Undefined when there is none.
 *
 * Every start that binds a directory runs this look, so it reads no more than it must: entry
 * types come with the listing (no lstat per entry), a directory that is listed anyway (the first
 * level) is judged by its listing, and a marker that is absent costs one lstat that builds no Stats
 * (markerAbsent). The look at a grant of /usr/share/doc (1,026 directories) cost ~54 ms of CPU
 * per start, now ~15 (bench/results.md, round 20); what is found, and in which order, is unchanged.
 */
export function oacpHomeAt(name: string, at: string = name): string | undefined {
  const absolute = resolve(name);
  if (isOacpHome(at)) return absolute;
  for (let above = dirname(absolute); ; above = dirname(above)) {
    if (isOacpHome(above)) return above;
    if (dirname(above) === above) break;
  }
  if (NOT_ENTERED.has(basename(absolute))) return undefined;
  let budget = MAX_SCANNED;
  const below = (
    entries: readonly Dirent[],
    parent: string,
    shown: string,
    depth: number,
  ): string | undefined => {
    for (const entry of entries) {
      if (NOT_ENTERED.has(entry.name)) continue;
      if (--budget < 0) return undefined;
      // A symlink is no directory here (its type in the listing, as lstat said before): never entered.
      if (!entry.isDirectory()) continue;
      const child = join(parent, entry.name);
      const listing = depth > 1 ? listed(child) : undefined;
      if (listing === undefined ? markedHome(child) : markedHome(child, listing))
        return join(shown, entry.name);
      if (listing !== undefined) {
        const deeper = below(listing, child, join(shown, entry.name), depth - 1);
        if (deeper !== undefined) return deeper;
      }
    }
    return undefined;
  };
  const top = listed(at);
  return top === undefined ? undefined : below(top, at, absolute, 2);
}

/** A directory's entries with their types (lstat'd by Node where the file system gives none); undefined when unreadable. */
function listed(dir: string): Dirent[] | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
}

/**
 * isOacpHome for a directory the look passes, most of which are none. From `listing` (the
 * directory's entries, just read): no `master.key` and no `keys` means no marker can resolve.
 * Without one: each marker absent in one lstat. Anything else is decided by isOacpHome itself.
 */
function markedHome(dir: string, listing?: readonly Dirent[]): boolean {
  if (listing !== undefined) {
    if (!listing.some((entry) => entry.name === 'master.key' || entry.name === 'keys')) return false;
  } else {
    const markers = homeMarkers(dir);
    if (markerAbsent(markers.masterKey) && markerAbsent(markers.airlockKey)) return false;
  }
  return isOacpHome(dir);
}

/**
 * Whether lstat says nothing has this name (ENOENT, answered without an exception or a Stats
 * object). Any other answer (an entry, or another error such as EACCES or ENOTDIR) is "not
 * known absent", left to isOacpHome (entryExists), which also asks with the real uid.
 */
function markerAbsent(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) === undefined;
  } catch {
    return false;
  }
}
