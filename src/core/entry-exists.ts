import { lstatSync } from 'node:fs';

/**
 * Whether anything has this name: lstat, so a symlink counts even when its target is gone. A name that
 * is not there answers without an exception (`throwIfNoEntry`): every sandbox start asks this of each
 * registered OACP home and account home, and a thrown ENOENT costs ~10 µs of stack capture each.
 */
export function entryExists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
