import { lstatSync } from 'node:fs';

/** Whether anything has this name: lstat, so a symlink counts even when its target is gone. */
export function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
