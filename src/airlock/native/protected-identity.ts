import { readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';
import { closeAll, openNoFollow } from './grant-open.js';

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
  /** Files of a home with more than one name (st_nlink > 1), each with its link count. */
  readonly linked: readonly { readonly path: string; readonly links: number }[];
  /**
   * Whether `path` is still the object `identity` names, checked race-free before a match refuses
   * anything; absent when the maps were built race-free already.
   */
  readonly confirm?: (path: string, identity: string) => boolean;
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

/**
 * Why a protected path could not be checked, or undefined when the failure proves it holds no
 * key: ENOENT (gone since it was listed, or a symlink to nothing) and ELOOP (a symlink loop)
 * name no file. Anything else (EACCES, EIO, ...) might hide a key, so the start is refused.
 */
function unchecked(
  path: string,
  error: unknown,
  fix = 'make it readable by this user, or remove it',
): OacpError<NativeErrorCode> | undefined {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  if (code === 'ENOENT' || code === 'ELOOP') return undefined;
  return new OacpError<NativeErrorCode>(
    'AIRLOCK_PROTECTED_UNCHECKED',
    `cannot check ${path} (${code}), which a sandbox must never see: OACP refuses to start a sandbox it cannot prove keeps it out; ${fix}`,
  );
}

function statOrRefuse(path: string, fix?: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const refusal = unchecked(path, error, fix);
    if (refusal !== undefined) throw refusal;
    return undefined;
  }
}

function entriesOrRefuse(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch (error) {
    // Not a directory: the entry itself is already protected by its identity.
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    const refusal = unchecked(dir, error);
    if (refusal !== undefined) throw refusal;
    return [];
  }
}

/**
 * Every protected object by identity: the home, its entries and the entries of
 * `keys/` and `agents/` (the sealed keys). Fail-closed: an entry it cannot stat or
 * list refuses the start (AIRLOCK_PROTECTED_UNCHECKED), naming the path only.
 */
export function protectedIdentities(homes: readonly string[]): ProtectedIdentities {
  const secret = new Map<string, string>();
  const above = new Map<string, string>();
  const linked: { path: string; links: number }[] = [];
  for (const home of homes) {
    const stat = statOrRefuse(
      home,
      'a home this user cannot reach is named by --home, OACP_HOME or HOME (~/.oacp): set them to directories of this user',
    );
    if (stat === undefined) continue;
    const inside = [
      ...entriesOrRefuse(home),
      ...entriesOrRefuse(join(home, 'keys')),
      ...entriesOrRefuse(join(home, 'agents')),
    ];
    for (const path of [home, ...inside]) {
      const each = path === home ? stat : statOrRefuse(path);
      if (each === undefined) continue;
      secret.set(identityOf(each), path);
      if (each.isFile() && each.nlink > 1) linked.push({ path, links: each.nlink });
    }
    let dir = dirname(realpathSync(home));
    for (;;) {
      const parent = tryStat(dir);
      if (parent !== undefined) above.set(identityOf(parent), dir);
      if (dir === '/') break;
      dir = dirname(dir);
    }
  }
  return { secret, above, linked };
}

/**
 * Homes found by account and registry rather than named by the invocation, by identity: each home
 * itself and every directory above it (a bind mount of one shows the home under a name no path
 * check knows: an admin's bind of `/srv/svc` at `/mnt/view` showed a registered home three levels
 * down to a grant of `/mnt/view`). `homes` are real paths (accountOacpHomePaths). Lenient, unlike homeIdentities: a home that cannot be stat'ed
 * refuses nothing. The maps come from plain stat calls (one per home and per distinct directory
 * above: a walk by descriptor cost 7 ms for 146 homes), so a match is confirmed by a walk that
 * follows no symlink before it refuses: another account's registry names its own paths, and a
 * symlink swapped in during the stat calls must not make its target (someone else's directory)
 * count as holding a home.
 */
export function knownHomeIdentities(homes: readonly string[]): ProtectedIdentities {
  const secret = new Map<string, string>();
  const above = new Map<string, string>();
  const seen = new Set<string>();
  for (const home of homes) {
    const stat = tryStat(home);
    if (stat === undefined) continue;
    secret.set(identityOf(stat), home);
    for (let dir = dirname(home); !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const parent = tryStat(dir);
      if (parent !== undefined) above.set(identityOf(parent), dir);
      if (dir === '/') break;
    }
  }
  return { secret, above, linked: [], confirm: walkedIdentityIs };
}

/** Whether `path`, opened without following a symlink at any component, is `identity`. */
function walkedIdentityIs(path: string, identity: string): boolean {
  let last: Stats | undefined;
  try {
    const opened = openNoFollow(path, (components) => {
      last = components.at(-1);
      return undefined;
    });
    if (opened !== undefined) closeAll([opened]);
  } catch {
    return false;
  }
  return last !== undefined && identityOf(last) === identity;
}

/**
 * The OACP homes' identities, refused (AIRLOCK_KEY_HARD_LINKED) when a file in one has a second
 * name: a hard link shows the key under another path, and a granted directory holding that name
 * is bound into the sandbox without any path or identity check seeing it (only a walk of every
 * granted tree could). OACP writes each key with one link, so a second one was made by someone.
 */
export function homeIdentities(homes: readonly string[]): ProtectedIdentities {
  const guard = protectedIdentities(homes);
  const first = guard.linked[0];
  if (first !== undefined) {
    throw new OacpError<NativeErrorCode>('AIRLOCK_KEY_HARD_LINKED', hardLinkProblem(first));
  }
  return guard;
}

/** Why a home cannot be guarded (what `oacp doctor` prints), or undefined when it can. */
export function homeGuardProblem(homes: readonly string[]): string | undefined {
  try {
    homeIdentities(homes);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function hardLinkProblem({ path, links }: { path: string; links: number }): string {
  return `${path} of the OACP home has ${links} hard links: another name for it may lie in a granted directory and would be bound into a sandbox; remove the other names (find / -xdev -samefile ${path}) before starting any sandbox`;
}

/** Why a grant exposes the home (or `what` the guard protects), checked on what was opened; undefined when it does not. */
export function exposesHome(
  components: readonly Pick<Stats, 'dev' | 'ino'>[],
  guard: ProtectedIdentities,
  what = 'the OACP home',
): string | undefined {
  for (const component of components) {
    const id = identityOf(component);
    const home = guard.secret.get(id);
    if (home !== undefined && (guard.confirm?.(home, id) ?? true))
      return `it shows ${home} of ${what} under another name (bind mount or hard link); grant a path outside it`;
  }
  const last = components.at(-1);
  const outer = last === undefined ? undefined : guard.above.get(identityOf(last));
  if (outer !== undefined && last !== undefined && (guard.confirm?.(outer, identityOf(last)) ?? true))
    return `it is ${outer}, which holds ${what}, under another name (bind mount); grant a path outside it`;
  return undefined;
}

/** Mount points strictly inside `dir` (a bind mount there would be bound into the sandbox too). */
export function mountPointsUnder(dir: string, mountinfo: readonly string[]): string[] {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  return mountinfo.filter((point) => point.startsWith(prefix));
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
    const id = identityOf(stat);
    const home = guard.secret.get(id) ?? guard.above.get(id);
    if (home !== undefined && (guard.confirm?.(home, id) ?? true)) {
      return `grant ${grant} holds the mount ${point}, which shows ${home} of ${what}; grant a path outside it`;
    }
  }
  return undefined;
}
