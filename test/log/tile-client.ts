import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hashChildren } from '../../src/log/hash.js';
import { entriesPath, tilePath } from '../../src/log/tile-path.js';

/**
 * A minimal tlog-tiles client written from the spec's definitions, independent of
 * MerkleTree, so tests can check that what the log serves is what a third party computes.
 */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A client's view: the hashes of one tile as of a tree size, falling back to the full tile. */
export function tileHashes(dir: string, level: number, n: number, width: number): Uint8Array {
  for (const path of [tilePath(level, n, width), tilePath(level, n, 256)]) {
    try {
      return new Uint8Array(readFileSync(join(dir, path))).subarray(0, width * 32);
    } catch {}
  }
  throw new Error(`tile ${level}/${n} width ${width} is missing`);
}

/** Root of a tree of `size` leaves computed only from tile files, following the tlog-tiles definitions. */
export function rootFromTiles(dir: string, size: number): Uint8Array {
  const subtrees: Uint8Array[] = [];
  let start = 0;
  for (let height = 52; height >= 0; height -= 1) {
    const span = 2 ** height;
    if (size - start < span) continue;
    const level = Math.floor(height / 8);
    const unit = 256 ** level;
    let hashes: Uint8Array[] = [];
    for (let i = start / unit; i < (start + span) / unit; i += 1) {
      const n = Math.floor(i / 256);
      const width = Math.min(256, Math.floor(size / unit) - n * 256);
      const tile = tileHashes(dir, level, n, width);
      hashes.push(tile.subarray((i % 256) * 32, (i % 256) * 32 + 32));
    }
    while (hashes.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < hashes.length; i += 2)
        next.push(hashChildren(hashes[i] as Uint8Array, hashes[i + 1] as Uint8Array));
      hashes = next;
    }
    subtrees.push(hashes[0] as Uint8Array);
    start += span;
  }
  let root = subtrees.pop() as Uint8Array;
  while (subtrees.length > 0) root = hashChildren(subtrees.pop() as Uint8Array, root);
  return root;
}

/** Entry `index` as a client reads it from its bundle, at tree size `size`. */
export function entryFromTiles(dir: string, index: number, size: number): Uint8Array {
  const n = Math.floor(index / 256);
  const width = Math.min(256, size - n * 256);
  const paths = [entriesPath(n, width), entriesPath(n, 256)];
  for (const path of paths) {
    let bundle: Buffer;
    try {
      bundle = readFileSync(join(dir, path));
    } catch {
      continue;
    }
    let at = 0;
    for (let i = 0; at + 2 <= bundle.length; i += 1) {
      const length = bundle.readUInt16BE(at);
      if (i === index % 256) return new Uint8Array(bundle.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  throw new Error(`entry ${index} is in no bundle`);
}

/** Leaf hash `index` as a client reads it from the level-0 tile, at tree size `size`. */
export function leafFromTiles(dir: string, index: number, size: number): Uint8Array {
  const n = Math.floor(index / 256);
  const tile = tileHashes(dir, 0, n, Math.min(256, size - n * 256));
  return tile.slice((index % 256) * 32, (index % 256) * 32 + 32);
}
