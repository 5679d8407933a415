import { type Stats, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/**
 * A home shared between root and another uid (root ran `oacp init`, uid 1000
 * runs the bridge): the store's files and the home's record of its store are
 * the maker's, mode 0600, and the other uid's open fails with a bare EACCES,
 * or finds "no store" where one is. Said as what it is: which file, whose,
 * and the two fixes. `undefined` when the failure is not about ownership.
 */
export function notOursReason(path: string, error: unknown, home?: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined || uid === 0 || !isAccessError(error)) return undefined;
  const blocker = nearestStat(resolve(path));
  if (blocker === undefined || blocker.stats.uid === uid) return undefined;
  const owner = blocker.stats.uid;
  const mode = (blocker.stats.mode & 0o777).toString(8).padStart(4, '0');
  const whose = blocker.path === resolve(path) ? 'it is' : `${blocker.path} is`;
  const inHome = home !== undefined && isUnder(resolve(path), resolve(home));
  const target = inHome ? resolve(home) : blocker.path;
  return (
    `uid ${uid} cannot use ${path}: ${whose} uid ${owner}'s (mode ${mode}); ${inHome ? 'this home was' : 'it was'} made by another user: ` +
    `run the command as uid ${owner}, or give it to uid ${uid} (as root: chown -R ${uid}:${process.getgid?.() ?? uid} ${target})`
  );
}

function isAccessError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = String((error as { code: unknown }).code);
  return (
    code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY')
  );
}

/** The path itself, or the nearest directory above it this uid can stat (the one that shut it out). */
function nearestStat(path: string): { readonly path: string; readonly stats: Stats } | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      const stats = statSync(at);
      // A directory this uid can stat but not enter is the blocker; so is a file it cannot open.
      return { path: at, stats };
    } catch {
      if (at === dirname(at)) return undefined;
    }
  }
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
