import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { homeLayout } from '../../identity/home-layout.js';
import { accountHomes } from './account-homes.js';

/**
 * OACP homes that no invocation names and no account's `~/.oacp` is: a gateway service's
 * `OACP_HOME=/srv/oacp`. Two ways find them, both cheap on every start:
 * - a registry `oacp init` appends to: the host's (`/var/lib/oacp/homes`, when this user can
 *   write it) and the invoking account's (`~/.config/oacp/homes` under its passwd home);
 * - the home's own marker files (`master.key`, `keys/airlock.json`) at a grant, at its ancestors
 *   and at most two levels below it (a grant of the home's 0700 parent, or of `/srv`), so a home
 *   made before the registry existed is still found where a grant most often meets it.
 * A registered path counts only while it holds a marker: another account writing `/` into its
 * own registry must not make every grant of root's sandboxes a refusal.
 */
export const SYSTEM_HOME_REGISTRY = '/var/lib/oacp/homes';

function accountRegistry(home: string): string {
  return join(home, '.config', 'oacp', 'homes');
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` is an OACP home by its own marker files, whatever its name. */
export function isOacpHome(dir: string): boolean {
  const layout = homeLayout(dir);
  return exists(layout.airlockKey) || exists(layout.masterKey);
}

/**
 * Records `home` in the host's registry (when this user may write it) and in the invoking
 * account's; a registry that cannot be written is skipped (the marker check still finds the home
 * at a grant's own level). Returns where it was recorded.
 */
export function registerOacpHome(
  home: string,
  accountHome: string | undefined = accountHomes()[0],
): string[] {
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
    // Homes since removed (scratch homes, reinstalled hosts) are dropped as this one is added.
    const kept = readRegistry(registry).filter((entry) => entry !== path && isOacpHome(entry));
    try {
      mkdirSync(dirname(registry), { recursive: true, mode: 0o755 });
      const next = `${registry}.${process.pid}`;
      writeFileSync(next, [...kept, path, ''].join('\n'), { mode: 0o644 });
      renameSync(next, registry);
      recorded.push(registry);
    } catch {
      // Not this user's to write (the host's, as a regular user): the other registry and the
      // marker check remain.
    }
  }
  return recorded;
}

function readRegistry(registry: string): string[] {
  try {
    return readFileSync(registry, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('/'));
  } catch {
    return [];
  }
}

/** Every registered home that is still a home (it holds a marker), from every registry readable here. */
export function registeredOacpHomes(): string[] {
  const registries = [SYSTEM_HOME_REGISTRY, ...accountHomes().map(accountRegistry)];
  const homes = new Set<string>();
  for (const registry of registries) {
    for (const home of readRegistry(registry)) if (isOacpHome(home)) homes.add(resolve(home));
  }
  return [...homes];
}

/** Entries read below a grant at most: a bounded look, not a walk of the tree (the registry covers deeper homes). */
const MAX_SCANNED = 4096;

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
  let budget = MAX_SCANNED;
  const below = (parent: string, shown: string, depth: number): string | undefined => {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      return undefined;
    }
    for (const entry of names) {
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
