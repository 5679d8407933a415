import { constants } from 'node:fs';
import { lstat, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tryExclusiveLock } from '../../core/flock.js';
import { OWNER_LOCK } from './owned-dir.js';

/** The prefixes of the tiers' per-sandbox host directories (makeOwnedDir). */
export const SANDBOX_DIR_PREFIXES = ['oacp-hardened-', 'oacp-gvisor-'] as const;
/** S_ISVTX, the sticky bit (absent from Node's fs.constants). */
const STICKY = 0o1000;
/** At most this many removals per sweep: start-up never pays for a large backlog. */
export const DIR_SWEEP_LIMIT = 32;

/**
 * Whether entries of `root` stay what they are between a check and a removal: only when no
 * other user can rename them away and put their own in their place (`root` is writable by no
 * one else, or is sticky as /tmp is).
 */
async function stableEntries(root: string): Promise<boolean> {
  try {
    const info = await stat(root);
    return info.isDirectory() && ((info.mode & STICKY) !== 0 || (info.mode & 0o022) === 0);
  } catch {
    return false;
  }
}

/**
 * Whether `path` is a sandbox directory of this user whose creator is provably gone: a real
 * directory (never a symlink) owned by `uid`, holding an owner lock (a regular file of `uid`,
 * opened without following a link) that no live process holds. A directory without one (an
 * earlier version's, or one being made) is never judged dead.
 */
async function deadOwner(path: string, uid: number): Promise<boolean> {
  const dir = await lstat(path);
  if (!dir.isDirectory() || dir.uid !== uid) return false;
  const lock = await open(
    join(path, OWNER_LOCK),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch(() => undefined);
  if (lock === undefined) return false;
  try {
    const info = await lock.stat();
    return info.isFile() && info.uid === uid && tryExclusiveLock(lock.fd);
  } finally {
    await lock.close();
  }
}

/**
 * Removes the per-sandbox directories under `root` that processes of this user left when they
 * were killed before their cleanup ran (makeOwnedDir's lock is free: the kernel dropped it with
 * its holder). Never another user's, a live sandbox's, or what a symlink points at. Off the
 * start's path (it begins after the current turn; the listing, checks and removals run in the
 * thread pool), at most DIR_SWEEP_LIMIT removals, and best effort: it never rejects. Resolves
 * with the removals made.
 */
export async function sweepStaleSandboxDirs(root: string): Promise<number> {
  await new Promise((next) => setImmediate(next));
  const uid = process.geteuid?.();
  if (uid === undefined || !(await stableEntries(root))) return 0;
  const names = await readdir(root).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (removed >= DIR_SWEEP_LIMIT) break;
    if (!SANDBOX_DIR_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const path = join(root, name);
    try {
      if (!(await deadOwner(path, uid))) continue;
      // rm unlinks a symlink inside, never follows it.
      await rm(path, { recursive: true, force: true });
      removed += 1;
    } catch {
      // Gone already, or not removable: left as it is.
    }
  }
  return removed;
}
