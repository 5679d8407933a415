import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { accountHomes } from './account-homes.js';

/**
 * Host paths no sandbox may see, whatever a grant says: the OACP home (master
 * key, sealed keys, log) as named by the caller, `$OACP_HOME` and `~/.oacp`,
 * and every account's `~/.oacp` that exists (by /etc/passwd, not `$HOME`: root
 * granting `/home/alice`, or run with another `$HOME`, must not show alice's or
 * its own master key), each also by its real path.
 */
export function protectedPaths(
  named: readonly string[] = [],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  const paths = [...named, join(homedir(), '.oacp')];
  if (env.OACP_HOME !== undefined && env.OACP_HOME !== '') paths.push(env.OACP_HOME);
  // Only homes that exist: an account's home such as /bin must not make /bin ungrantable.
  for (const home of accountHomes()) {
    const oacp = join(home, '.oacp');
    if (existsSync(oacp)) paths.push(oacp);
  }
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

/** The protected path `path` lies inside or contains, if any: overlap either way exposes it. */
export function overlapsProtected(path: string, protectedList: readonly string[]): string | undefined {
  const inside = (child: string, parent: string): boolean =>
    parent === '/' || child === parent || child.startsWith(`${parent}/`);
  return protectedList.find((home) => inside(path, home) || inside(home, path));
}
