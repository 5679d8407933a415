import { existsSync, lstatSync } from 'node:fs';

/**
 * Whether anything has this name: lstat, so a symlink counts even when its target is gone. A name that
 * is not there answers without an exception (`throwIfNoEntry`): every sandbox start that binds a grant
 * asks this of each registered OACP home, its marker files and each account home, and a thrown ENOENT
 * costs ~10 µs of stack capture each. Asked first with access(F_OK) (existsSync), which builds no
 * Stats object (an lstat result costs ~1.5 µs more, four Dates included): when the name resolves,
 * the entry exists; when it does not (absent, a dangling symlink, or a directory the real uid may not
 * search), lstat decides as before.
 */
export function entryExists(path: string): boolean {
  if (existsSync(path)) return true;
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
