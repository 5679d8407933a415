import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `content` to `path` by a new file beside it, renamed over it: whatever is at `path` (a
 * symlink a sandbox planted in a directory it may write, a FIFO) is replaced, never written
 * through. The new file is created exclusively (O_EXCL follows no link) under a random name.
 */
export function replaceFile(path: string, content: string, mode: number): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
