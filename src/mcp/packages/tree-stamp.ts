import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fingerprint of a tree's metadata: every entry's path and type, every
 * directory's and file's inode, mode, size, and modification and change times
 * in nanoseconds. Any write to a file moves its ctime, which no unprivileged
 * process can set back, so a tree whose stamp equals the one taken right
 * after it was last fully digested still has that digest (git's index makes
 * the same bet). It costs one readdir per directory and one lstat per
 * non-directory entry (a directory's own metadata is stamped once, from inside
 * it) instead of reading and hashing every byte. A symlink's target cannot be
 * rewritten in place: replacing it changes its directory's ctime.
 */
export function treeStamp(root: string): string {
  const listing = createHash('sha256');
  walk(root, '', listing);
  return listing.digest('hex');
}

function walk(root: string, relative: string, listing: ReturnType<typeof createHash>): void {
  const dir = relative === '' ? root : join(root, relative);
  // The directory's own metadata first: an entry added, removed or renamed in it moves its ctime.
  const self = lstatSync(dir, { bigint: true });
  const lines = [
    `. ${JSON.stringify(relative)} ${self.mode} ${self.dev}:${self.ino} ${self.mtimeNs} ${self.ctimeNs}`,
  ];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const subdirectories: string[] = [];
  for (const entry of entries) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      lines.push(`d ${JSON.stringify(path)}`);
      subdirectories.push(path);
      continue;
    }
    const stat = lstatSync(join(dir, entry.name), { bigint: true });
    lines.push(
      `${JSON.stringify(path)} ${stat.mode} ${stat.size} ${stat.dev}:${stat.ino} ${stat.mtimeNs} ${stat.ctimeNs}`,
    );
  }
  listing.update(`${lines.join('\n')}\n`);
  for (const path of subdirectories) walk(root, path, listing);
}
