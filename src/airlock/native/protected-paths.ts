import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { entryExists } from '../../core/entry-exists.js';
import { isOacpHome } from '../../identity/home-registry.js';
import { accountHomes } from './account-homes.js';
import { listedOacpHomes } from './home-registry.js';

/**
 * Host paths no sandbox may see, whatever a grant says: the OACP home (master
 * key, sealed keys, log) as named by the caller, `$OACP_HOME` and `~/.oacp`,
 * each also by its real path.
 */
export function protectedPaths(
  named: readonly string[] = [],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  const paths = [...named, join(homedir(), '.oacp')];
  if (env.OACP_HOME !== undefined && env.OACP_HOME !== '') paths.push(env.OACP_HOME);
  const all = new Set<string>();
  for (const path of paths) {
    const absolute = resolve(path);
    all.add(absolute);
    try {
      all.add(realpathSync(absolute));
    } catch {
      // A home that does not exist yet is protected by name.
    }
  }
  return [...all];
}

/**
 * Every account's `~/.oacp` that exists, found through /etc/passwd rather than `$HOME` (each also by
 * its real path), for the path check of grants only: root granting `/home/alice` (a private
 * directory root's grants can open) must not show alice's master key, nor root's own when run with
 * another `$HOME`. Not for the identity guard, which refuses every start on a home it cannot read or
 * whose key has a second name: another account must not be able to stop this one's sandboxes.
 * Only homes that are homes (a master key or the Airlock key at the real path): an account whose
 * home is /bin must not make /bin ungrantable, nor one whose `~/.oacp` links to `/` every path.
 * Homes elsewhere (a service's `OACP_HOME=/srv/oacp`) come from the registry `oacp init` writes.
 * `accounts`: the account homes (accountHomes), when the caller has just read them.
 */
export function accountOacpHomes(accounts: readonly string[] = accountHomes()): string[] {
  const all = new Set<string>();
  for (const { name, real } of accountOacpHomePaths(accounts)) all.add(name).add(real);
  return [...all];
}

/**
 * The same homes, each as the name it was found by and its real path (resolved once): the
 * identity guard of these homes (knownHomeIdentities) walks the real paths only, since a name may
 * hold a symlink its account can swap.
 */
export function accountOacpHomePaths(
  accounts: readonly string[] = accountHomes(),
): { readonly name: string; readonly real: string }[] {
  const homes: { name: string; real: string }[] = [];
  const named = new Set(accounts.map((home) => resolve(home, '.oacp')));
  // Registered homes as listed: each is judged once, by its markers at its real path, below (a
  // look at the listed name first doubled the marker lstats of every start).
  const found = new Set([...named, ...listedOacpHomes(accounts)]);
  for (const oacp of found) {
    // Most accounts have no `~/.oacp`: skipped without realpath's thrown ENOENT (each start that
    // binds a grant asks of every account). A registered home is there until its entry is pruned,
    // so realpath alone answers for it: asking first cost one more system call per registered home.
    if (named.has(oacp) && !entryExists(oacp)) continue;
    let real: string;
    try {
      // One realpath(3): the JS realpathSync lstats every component of every home.
      real = realpathSync.native(oacp);
    } catch {
      continue;
    }
    // Judged by the markers at its real path, resolved once: any account may make its `~/.oacp` a
    // symlink to `/` (or to another account's directory), and every grant of every other account's
    // sandboxes overlapped that "home" and was refused; a link swapped after a check is caught too.
    if (!isOacpHome(real)) continue;
    homes.push({ name: oacp, real });
  }
  return homes;
}

/** Every account's home and the OACP homes found from them and the registries, read together once. */
export interface AccountHomes {
  /** accountHomes(): /etc/passwd and the invoker's passwd entry. */
  readonly homes: readonly string[];
  /** accountOacpHomes() of those homes. */
  readonly oacpHomes: readonly string[];
}

/** Reads the account table and the home registries once, for a caller that checks several paths against them. */
export function readAccountHomes(): AccountHomes {
  const homes = accountHomes();
  return { homes, oacpHomes: accountOacpHomes(homes) };
}

/** The protected path `path` lies inside or contains, if any: overlap either way exposes it. */
export function overlapsProtected(path: string, protectedList: readonly string[]): string | undefined {
  const inside = (child: string, parent: string): boolean =>
    parent === '/' || child === parent || child.startsWith(`${parent}/`);
  return protectedList.find((home) => inside(path, home) || inside(home, path));
}
