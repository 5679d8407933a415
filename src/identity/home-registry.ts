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
import { join, resolve } from 'node:path';
import { entryExists } from '../core/entry-exists.js';
import { homeMarkers } from './home-layout.js';

/**
 * OACP homes that no invocation names and no account's `~/.oacp` is: a gateway service's
 * `OACP_HOME=/srv/oacp`. Two ways find them, both cheap on every start that binds a grant (one that binds none reads neither):
 * - a registry `KeyStore.init` writes to (so `oacp init` and a program using the library alike): the host's (`/var/lib/oacp/homes.d`, when this user can
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

export function accountRegistry(home: string): string {
  return join(home, '.config', 'oacp', 'homes.d');
}

/**
 * The invoking account's home: its passwd entry's, else `$HOME`. A uid with no passwd entry (a
 * container's arbitrary uid) took the first passwd line's home (root's), could not write there,
 * and its homes were registered nowhere: one three levels below a later grant was shown.
 */
export function invokerHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    const home = homedir();
    return home.startsWith('/') ? home : undefined;
  }
}

/** Whether `dir` is an OACP home by its own marker files, whatever its name. */
export function isOacpHome(dir: string): boolean {
  const markers = homeMarkers(dir);
  return entryExists(markers.airlockKey) || entryExists(markers.masterKey);
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
 * sandbox start that binds a grant reads the registry, and a listing costs one call where reading
 * each entry's file cost three per home), else by a digest of it; the file holds the path either way.
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
 * account's, dropping entries of homes since removed (scratch homes; after PRUNE_GRACE_MS); a registry that cannot be
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
      if (!isOacpHome(listed) && olderThan(file, PRUNE_GRACE_MS)) {
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

/**
 * An entry is written before its home has any key (see KeyStore.init), so a home with no markers
 * may be one another init is making right now: its entry is dropped only once it is this old. A
 * concurrent init dropped it at once before, and that home went unguarded by the registry.
 */
const PRUNE_GRACE_MS = 5 * 60_000;

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - lstatSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

export function readRegistry(registry: string): { file: string; home: string }[] {
  let names: string[];
  // Most accounts have no registry: asked without an exception first (each start that binds a grant reads every account's).
  if (!entryExists(registry)) return [];
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
