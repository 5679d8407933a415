import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fingerprint of a tree's metadata: every entry's path, type, mode, size,
 * inode, and modification and change times in nanoseconds. Any write to a
 * file moves its ctime, which no unprivileged process can set back, so a
 * tree whose stamp equals the one taken right after it was last fully
 * digested still has that digest (git's index makes the same bet). It costs
 * one lstat per entry instead of reading and hashing every byte.
 */
export function treeStamp(root: string): string {
  const listing = createHash('sha256');
  walk(root, '', listing);
  return listing.digest('hex');
}

function walk(root: string, relative: string, listing: ReturnType<typeof createHash>): void {
  for (const name of readdirSync(join(root, relative)).sort()) {
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(join(root, path), { bigint: true });
    listing.update(
      `${JSON.stringify(path)} ${stat.mode} ${stat.size} ${stat.dev}:${stat.ino} ${stat.mtimeNs} ${stat.ctimeNs}\n`,
    );
    if (stat.isDirectory()) walk(root, path, listing);
  }
  const self = lstatSync(join(root, relative), { bigint: true });
  listing.update(`. ${JSON.stringify(relative)} ${self.mode} ${self.mtimeNs} ${self.ctimeNs}\n`);
}
