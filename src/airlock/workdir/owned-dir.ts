import { closeSync, constants, mkdtempSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tryExclusiveLock } from '../../core/flock.js';

/**
 * The file in a sandbox's host directory whose exclusive flock its creator holds for the
 * sandbox's life. The kernel drops the lock when the creator dies (SIGKILL included), so a later
 * start that can take it knows the creator is gone (stale.ts). It gets this name only once locked.
 */
export const OWNER_LOCK = 'owner.lock';

/** A sandbox's private host directory, with its owner lock held until `remove`. */
export interface OwnedDir {
  readonly path: string;
  /** Removes the directory, then drops the lock; idempotent. */
  remove(): void;
}

/**
 * Makes `<root>/<prefix>XXXXXX` and holds its owner lock. The lock file is created under
 * another name, locked, then renamed to OWNER_LOCK (the lock is the open file's and survives
 * the rename): a sweep never sees an owner lock that is free only because it is not taken yet.
 */
export function makeOwnedDir(root: string, prefix: string): OwnedDir {
  const path = mkdtempSync(join(root, prefix));
  let fd: number | undefined;
  try {
    const pending = join(path, `${OWNER_LOCK}.new`);
    fd = openSync(
      pending,
      constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    if (!tryExclusiveLock(fd)) throw new Error(`${pending} is locked by another process`);
    renameSync(pending, join(path, OWNER_LOCK));
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(path, { recursive: true, force: true });
    throw error;
  }
  let held: number | undefined = fd;
  return {
    path,
    remove: () => {
      if (held === undefined) return;
      // Removed while still locked: a sweep in another process never takes a directory being removed.
      rmSync(path, { recursive: true, force: true });
      closeSync(held);
      held = undefined;
    },
  };
}
