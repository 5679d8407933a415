import { readdirSync, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The OACP home (or another protected directory, such as the launcher
 * cache) by identity (device and inode), not by name: a bind mount,
 * a second mount of the same filesystem or a hard link shows the same
 * object under another path, and a path comparison never sees it. Built
 * once per sandbox start from the protected paths (protected-paths.ts).
 */
export interface ProtectedIdentities {
  /** The home, its entries and the keys directory's entries: a grant may not be or lie inside one. */
  readonly secret: ReadonlyMap<string, string>;
  /** Every directory above a home, up to /: a grant that is one of these contains the home. */
  readonly above: ReadonlyMap<string, string>;
}

/** Names the protected object a stat result is, if any. */
export function identityOf(stat: Pick<Stats, 'dev' | 'ino'>): string {
  return `${stat.dev}:${stat.ino}`;
}

function tryStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

export function protectedIdentities(homes: readonly string[]): ProtectedIdentities {
  const secret = new Map<string, string>();
  const above = new Map<string, string>();
  for (const home of homes) {
    const stat = tryStat(home);
    if (stat === undefined) continue;
    for (const path of [home, ...entries(home), ...entries(join(home, 'keys'))]) {
      const each = tryStat(path);
      if (each !== undefined) secret.set(identityOf(each), path);
    }
    let dir = dirname(realpathSync(home));
    for (;;) {
      const parent = tryStat(dir);
      if (parent !== undefined) above.set(identityOf(parent), dir);
      if (dir === '/') break;
      dir = dirname(dir);
    }
  }
  return { secret, above };
}

/** Why a grant exposes the home (or `what` the guard protects), checked on what was opened; undefined when it does not. */
export function exposesHome(
  components: readonly Pick<Stats, 'dev' | 'ino'>[],
  guard: ProtectedIdentities,
  what = 'the OACP home',
): string | undefined {
  for (const component of components) {
    const home = guard.secret.get(identityOf(component));
    if (home !== undefined)
      return `it shows ${home} of ${what} under another name (bind mount or hard link); grant a path outside it`;
  }
  const last = components.at(-1);
  const outer = last === undefined ? undefined : guard.above.get(identityOf(last));
  if (outer !== undefined)
    return `it is ${outer}, which holds ${what}, under another name (bind mount); grant a path outside it`;
  return undefined;
}

/** Mount points strictly inside `dir` (a bind mount there would be bound into the sandbox too). */
export function mountPointsUnder(dir: string, mountinfo: readonly string[]): string[] {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  return mountinfo.filter((point) => point.startsWith(prefix));
}

/** Mount points of this process's namespace, from /proc/self/mountinfo (octal escapes decoded). */
export function readMountPoints(): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    points.push(
      field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    );
  }
  return points;
}

/** A mount inside a grant that shows the home or a directory holding it, if any. */
export function mountExposingHome(
  grant: string,
  mountinfo: readonly string[],
  guard: ProtectedIdentities,
  what = 'the OACP home',
): string | undefined {
  for (const point of mountPointsUnder(grant, mountinfo)) {
    const stat = tryStat(point);
    if (stat === undefined) continue;
    const home = guard.secret.get(identityOf(stat)) ?? guard.above.get(identityOf(stat));
    if (home !== undefined) {
      return `grant ${grant} holds the mount ${point}, which shows ${home} of ${what}; grant a path outside it`;
    }
  }
  return undefined;
}
