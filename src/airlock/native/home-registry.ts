import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { entryExists } from '../../core/entry-exists.js';
import { homeLayout } from '../../identity/home-layout.js';
import { accountHomes } from './account-homes.js';

/**
 * OACP homes that no invocation names and no account's `~/.oacp` is: a gateway service's
 * `OACP_HOME=/srv/oacp`. Two ways find them, both cheap on every start:
 * - a registry `oacp init` writes to: the host's (`/var/lib/oacp/homes.d`, when this user can
 *   write it) and the invoking account's (`~/.config/oacp/homes.d` under its passwd home, or
 *   `$HOME` for a uid with no passwd entry), one
 *   file per home named by a digest of its path, so concurrent inits never lose an entry;
 * - the home's own marker files (`master.key`, `keys/airlock.json`) at a grant, at its ancestors
 *   and at most two levels below it (a grant of the home's 0700 parent, or of `/srv`), so a home
 *   made before the registry existed is still found where a grant most often meets it.
 * A registered path counts only while it holds a marker: another account writing `/` into its
 * own registry must not make every grant of root's sandboxes a refusal.
 */
export const SYSTEM_HOME_REGISTRY = '/var/lib/oacp/homes.d';

function accountRegistry(home: string): string {
  return join(home, '.config', 'oacp', 'homes.d');
}

/**
 * The invoking account's home: its passwd entry's, else `$HOME`. A uid with no passwd entry (a
 * container's arbitrary uid) took the first passwd line's home (root's), could not write there,
 * and its homes were registered nowhere: one three levels below a later grant was shown.
 */
function invokerHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    const home = homedir();
    return home.startsWith('/') ? home : undefined;
  }
}

/** Whether `dir` is an OACP home by its own marker files, whatever its name. */
export function isOacpHome(dir: string): boolean {
  const layout = homeLayout(dir);
  return entryExists(layout.airlockKey) || entryExists(layout.masterKey);
}

/**
 * Paths up to this many bytes are the entry's own file name (base64url: 242 characters with the
 * prefix, under NAME_MAX's 255), so a directory listing alone reads the registry. Bytes, not
 * characters: a path of 70 CJK characters is 210 bytes, its name was over 255, the write failed
 * with ENAMETOOLONG like an unwritable registry, and the home was registered nowhere.
 */
const NAMED_PATH_MAX = 180;
const NAMED = 'p-';

/**
 * A registry's entry file for `home`: named by the path itself where it fits a file name (every
 * sandbox start reads the registry, twice, and a listing costs one call where reading each entry's
 * file cost three per home), else by a digest of it; the file holds the path either way.
 */
export function registryEntry(registry: string, home: string): string {
  const name =
    Buffer.byteLength(home) <= NAMED_PATH_MAX
      ? `${NAMED}${Buffer.from(home).toString('base64url')}`
      : createHash('sha256').update(home).digest('hex').slice(0, 32);
  return join(registry, name);
}

/**
 * Records `home` in the host's registry (when this user may write it) and in the invoking
 * account's, dropping entries of homes since removed (scratch homes); a registry that cannot be
 * written is skipped (the marker check still finds the home near a grant). Returns the entries
 * written.
 */
export function registerOacpHome(home: string, accountHome: string | undefined = invokerHome()): string[] {
  const path = (() => {
    try {
      return realpathSync(home);
    } catch {
      return resolve(home);
    }
  })();
  const recorded: string[] = [];
  const registries = [
    SYSTEM_HOME_REGISTRY,
    ...(accountHome === undefined ? [] : [accountRegistry(accountHome)]),
  ];
  for (const registry of registries) {
    for (const { file, home: listed } of readRegistry(registry)) {
      if (!isOacpHome(listed)) {
        try {
          unlinkSync(file);
        } catch {
          // Another init removed it, or not ours to remove.
        }
      }
    }
    const entry = registryEntry(registry, path);
    try {
      mkdirSync(registry, { recursive: true, mode: 0o755 });
      writeFileSync(entry, `${path}\n`, { mode: 0o644 });
      recorded.push(entry);
    } catch {
      // Not this user's to write (the host's, as a regular user): the other registry and the
      // marker check remain.
    }
  }
  return recorded;
}

function readRegistry(registry: string): { file: string; home: string }[] {
  let names: string[];
  try {
    names = readdirSync(registry);
  } catch {
    return [];
  }
  const entries: { file: string; home: string }[] = [];
  for (const name of names) {
    const file = join(registry, name);
    try {
      const home = name.startsWith(NAMED)
        ? Buffer.from(name.slice(NAMED.length), 'base64url').toString('utf8')
        : readFileSync(file, 'utf8').trim();
      if (home.startsWith('/') && !home.includes('\0')) entries.push({ file, home });
    } catch {
      // Removed meanwhile, or unreadable: nothing to guard by it.
    }
  }
  return entries;
}

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
 * Every registered home that is still a home (it holds a marker), from every registry readable here
 * (`accounts`: the account homes, when the caller has just read them).
 */
export function registeredOacpHomes(accounts: readonly string[] = accountHomes()): string[] {
  const listed = new Set<string>();
  for (const registry of registries(accounts))
    for (const { home } of readRegistry(registry)) listed.add(resolve(home));
  // Root's own registry repeats the host's: each home's markers are looked at once.
  return [...listed].filter(isOacpHome);
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
  const below = (parent: string, shown: string, depth: number): string | undefined => {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      return undefined;
    }
    for (const entry of names) {
      if (NOT_ENTERED.has(entry)) continue;
      if (--budget < 0) return undefined;
      const child = join(parent, entry);
      let directory: boolean;
      try {
        directory = lstatSync(child).isDirectory();
      } catch {
        continue;
      }
      if (!directory) continue;
      if (isOacpHome(child)) return join(shown, entry);
      if (depth > 1) {
        const deeper = below(child, join(shown, entry), depth - 1);
        if (deeper !== undefined) return deeper;
      }
    }
    return undefined;
  };
  return below(at, absolute, 2);
}
