import { createHash, randomUUID } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownedAndClosed } from './build.js';

/**
 * A read-only file in the launcher's cache directory (ours and closed to
 * others, like the launcher beside it), named by a digest of its content and
 * written once: the sandbox's synthetic /etc files and its workload filter
 * are the same for every sandbox of one identity, so a start binds these
 * instead of writing, and later deleting, copies of its own (on this host's
 * ext4, mounted with discard, that was milliseconds per start). A file that
 * is not ours or is writable by others is replaced, never used.
 */
export function cachedFile(dir: string, name: string, content: string | Uint8Array): string {
  const digest = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const path = join(dir, `${name}-${digest}`);
  if (ownedAndClosed(path, 'file')) return path;
  const temporary = join(dir, `.${name}-${digest}.${randomUUID()}`);
  try {
    writeFileSync(temporary, content, { mode: 0o444, flag: 'wx' });
    // Rename is atomic: a concurrent start binds the old file or the complete new one.
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  return path;
}
