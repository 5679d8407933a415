import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { FilePolicy } from '../../capability/file-policy.js';
import { normalizePath, type PathGlob, parsePathGlob } from '../../capability/path-glob.js';
import { entryExists } from '../../core/entry-exists.js';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';

/** One bind mount: host `source` (symlinks resolved) shown at `target` inside the sandbox. */
export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly writable: boolean;
  /** Granted by OACP itself (the executable, its runtime, the script's package), not by the manifest. */
  readonly implicit?: boolean;
}

/** Caps the filesystem walk a wildcard grant may trigger at start. */
const MAX_WALK_ENTRIES = 10_000;

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The host paths a glob grants, at bind granularity. `/a/b` and `/a/**` bind
 * `/a/b` and `/a` whole (exact). Other wildcards are expanded against the
 * filesystem now and only matching files are bound, so `/a/*.txt` never
 * exposes `/a/secret`; files created later are not visible (grant a `/**`
 * directory for that).
 */
export function globRoots(glob: PathGlob): string[] {
  const literal: string[] = [];
  for (const segment of glob.segments) {
    if (segment.kind !== 'literal') break;
    literal.push(segment.text);
  }
  const prefix = `/${literal.join('/')}`;
  const rest = glob.segments.slice(literal.length);
  if (rest.length === 0 || (rest.length === 1 && rest[0]?.kind === 'globstar')) return [prefix];
  const matches: string[] = [];
  let walked = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (++walked > MAX_WALK_ENTRIES) {
        throw new OacpError<NativeErrorCode>(
          'AIRLOCK_BAD_SPEC',
          `grant ${glob.text} matches too many paths to bind (over ${MAX_WALK_ENTRIES}); grant a directory with /** instead`,
        );
      }
      const path = join(dir, name);
      if (matchesGlob(glob, path) && !isDirectory(path)) matches.push(path);
      else if (isDirectory(path)) walk(path);
    }
  };
  walk(prefix);
  return matches;
}

function matchesGlob(glob: PathGlob, path: string): boolean {
  return FilePolicy.from({ file_read: [glob.text], file_write: [] }).decide(path, 'read').effect === 'allow';
}

/**
 * Resolves a grant root to its real host path and refuses one that leaves the
 * grant through a symlink: binding follows symlinks on the host, so
 * `/data/x -> /etc/shadow` under `/data/**` would otherwise expose the target.
 */
function resolveWithin(root: string, policy: FilePolicy, access: 'read' | 'write'): string {
  let real: string;
  try {
    real = realpathSync(root);
  } catch (error) {
    // A link this process may not follow (/proc/1/cwd, /proc/<pid>/root of another user) is refused, not bound.
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `file_${access} path ${root} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); grant a path this user can reach`,
    );
  }
  if (real !== root && policy.decide(real, access).effect !== 'allow') {
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `file_${access} path ${root} resolves through a symlink to ${real}, which the manifest does not grant`,
    );
  }
  return real;
}

/**
 * Bind mounts for a manifest's file grants and the implicit read paths, in
 * the order bwrap must apply them (parents before children, so a writable
 * grant nested in a read-only one stays writable). Paths that do not exist
 * are skipped: there is nothing to expose.
 */
export function planMounts(
  grants: { readonly file_read: readonly string[]; readonly file_write: readonly string[] },
  implicitReadPaths: readonly string[],
): Mount[] {
  const policy = FilePolicy.from(grants);
  const byTarget = new Map<string, Mount>();
  const add = (target: string, source: string, writable: boolean, implicit = false): void => {
    const previous = byTarget.get(target);
    byTarget.set(target, {
      source,
      target,
      writable: writable || (previous?.writable ?? false),
      ...(implicit && (previous === undefined || previous.implicit === true) ? { implicit: true } : {}),
    });
  };
  for (const path of implicitReadPaths) {
    const target = normalizePath(path);
    if (target === undefined || !entryExists(target)) continue;
    const real = realpathSync(target);
    add(target, real, false, true);
    if (real !== target) add(real, real, false, true);
  }
  for (const [access, globs] of [
    ['read', grants.file_read],
    ['write', grants.file_write],
  ] as const) {
    for (const text of globs) {
      const glob = parsePathGlob(text);
      if (glob === undefined) continue;
      for (const root of globRoots(glob)) {
        if (!entryExists(root)) continue;
        add(root, resolveWithin(root, policy, access), access === 'write');
      }
    }
  }
  return pruneCovered([...byTarget.values()]);
}

/** Drops mounts a parent mount with the same or stronger access already provides; sorts parents first. */
function pruneCovered(mounts: Mount[]): Mount[] {
  const sorted = mounts.sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  return sorted.filter(
    (mount) =>
      !sorted.some(
        (other) =>
          other !== mount &&
          mount.target.startsWith(`${other.target}/`) &&
          (other.writable || !mount.writable) &&
          mount.source === join(other.source, mount.target.slice(other.target.length)),
      ),
  );
}
