import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sha256OfRegularFile } from '../../core/regular-file.js';

/**
 * The sha256 of an installed package tree: every file's relative path,
 * executable bit and content digest, and every symlink's target, in sorted
 * order. Two trees with the same digest run the same code; it names the tree
 * in the store and identifies the server in receipts. Timestamps and owners
 * are left out, so reinstalling the same lock gives the same digest.
 * Each file is streamed through its hash in bounded chunks (a tree may hold
 * files up to the install's RLIMIT_FSIZE, 1 GiB), from one descriptor that
 * must still be a regular file: a swap after the listing is refused.
 */
export function treeDigest(root: string): string {
  const listing = createHash('sha256');
  walk(root, '', (line) => listing.update(`${line}\n`));
  return listing.digest('hex');
}

function walk(root: string, relative: string, emit: (line: string) => void): void {
  const names = readdirSync(join(root, relative)).sort();
  for (const name of names) {
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(join(root, path));
    if (stat.isSymbolicLink())
      emit(`l ${JSON.stringify(path)} ${JSON.stringify(readlinkSync(join(root, path)))}`);
    else if (stat.isDirectory()) {
      emit(`d ${JSON.stringify(path)}`);
      walk(root, path, emit);
    } else if (stat.isFile()) {
      const content = sha256OfRegularFile(join(root, path)).sha256;
      emit(`f ${JSON.stringify(path)} ${(stat.mode & 0o111) === 0 ? '-' : 'x'} ${content}`);
    } else emit(`o ${JSON.stringify(path)}`);
  }
}
