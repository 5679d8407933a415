import { join } from 'node:path';
import { logError } from './errors.js';
import { hashLeaf, sameBytes } from './hash.js';
import { TILE_WIDTH } from './hash-level.js';
import type { MerkleTree } from './merkle-tree.js';
import { readSmallBytes } from './small-file.js';
import { entriesPath, type TileAddress, tilePath } from './tile-path.js';
import { decodeBundle } from './tile-writer.js';

/** The first served file that does not match the write-ahead log, and how. */
export interface TileProblem {
  readonly path: string;
  readonly reason: string;
}

export interface TileCheckSource {
  readonly tree: MerkleTree;
  /** Length of entry `index` (from the write-ahead log's record positions). */
  entryLength(index: number): number;
}

/**
 * Checks the tiles a tlog-tiles client needs for a tree of `size` leaves against the tree
 * replayed from the write-ahead log: every hash tile byte for byte (a client may read the
 * exact-width tile or the full one), and every entry bundle by its length, or with `deep`
 * by hashing each entry against its leaf. Returns the first problem, or undefined.
 */
export async function checkTiles(
  dir: string,
  source: TileCheckSource,
  size: number,
  deep: boolean,
): Promise<TileProblem | undefined> {
  for (let level = 0, unit = 1; Math.floor(size / unit) > 0; level += 1, unit *= TILE_WIDTH) {
    const count = Math.floor(size / unit);
    for (let n = 0; n * TILE_WIDTH < count; n += 1) {
      const width = Math.min(TILE_WIDTH, count - n * TILE_WIDTH);
      const found = await readTile(dir, level, n, width);
      const path = tilePath(level, n, width);
      if (found === undefined) return { path, reason: 'missing' };
      if (found.length < width * 32) return { path, reason: `cut short (${found.length} bytes)` };
      const expected = source.tree.tileBytes(level * 8, n, width);
      if (!sameBytes(found.subarray(0, expected.length), expected))
        return { path, reason: 'its hashes differ from the write-ahead log' };
    }
  }
  for (let n = 0; n * TILE_WIDTH < size; n += 1) {
    const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
    const path = entriesPath(n, width);
    // Like a client, fall back to the full bundle once the partial one was replaced by it
    // (another process may do that while this check runs).
    const bundle =
      (await readOptional(join(dir, path))) ??
      (width < TILE_WIDTH ? await readOptional(join(dir, entriesPath(n, TILE_WIDTH))) : undefined);
    if (bundle === undefined) return { path, reason: 'missing' };
    const problem = checkLengths(bundle, n * TILE_WIDTH, width, source);
    if (problem !== undefined) return { path, reason: problem };
    if (deep) {
      let entries: Uint8Array[];
      try {
        entries = decodeBundle(bundle);
      } catch {
        return { path, reason: 'does not parse as an entry bundle' };
      }
      for (const [i, entry] of entries.slice(0, width).entries()) {
        if (!sameBytes(hashLeaf(entry), source.tree.leafHash(n * TILE_WIDTH + i)))
          return { path, reason: `damaged: entry ${n * TILE_WIDTH + i} differs from the write-ahead log` };
      }
    }
  }
  return undefined;
}

/** Walks the first `width` length prefixes of a bundle against the write-ahead log's records. */
function checkLengths(
  bundle: Buffer,
  first: number,
  width: number,
  source: TileCheckSource,
): string | undefined {
  let at = 0;
  for (let i = first; i < first + width; i += 1) {
    if (at + 2 > bundle.length) return `cut short at entry ${i} (${bundle.length} bytes)`;
    const length = bundle.readUInt16BE(at);
    if (length !== source.entryLength(i))
      return `entry ${i} has length ${length}, not ${source.entryLength(i)}`;
    at += 2 + length;
  }
  if (at > bundle.length) return `cut short at entry ${first + width - 1} (${bundle.length} bytes)`;
  return undefined;
}

/** The exact-width tile, or the full one a client falls back to once the tile has grown. */
async function readTile(dir: string, level: number, n: number, width: number): Promise<Buffer | undefined> {
  const exact = await readOptional(join(dir, tilePath(level, n, width)));
  if (exact !== undefined || width === TILE_WIDTH) return exact;
  return readOptional(join(dir, tilePath(level, n, TILE_WIDTH)));
}

/** An entry bundle holds at most 256 entries of up to 64 KiB, each with a 2-byte length. */
const MAX_TILE_FILE_BYTES = TILE_WIDTH * (2 + 0xffff);

async function readOptional(path: string): Promise<Buffer | undefined> {
  const read = await readSmallBytes(path, MAX_TILE_FILE_BYTES);
  if (read.kind === 'absent') return undefined;
  if (read.kind === 'bytes') return read.bytes;
  // Not a regular file, or larger than any tile: no tile is there, it is reported (and
  // `fsck --repair` told) as damage like a tile cut short, never read.
  if (read.cause === undefined) return Buffer.alloc(0);
  throw logError(
    'LOG_CORRUPT',
    `${path} cannot be read: ${read.reason}; nothing was changed: \`oacp log fsck --repair\` rewrites tiles from the verified write-ahead log`,
    read.cause,
  );
}

/**
 * Checks one tile about to be served against the tree replayed from the write-ahead log:
 * a hash tile must be byte for byte the tree's hashes, an entry bundle must hold exactly the
 * entries whose leaf hashes the tree has. A tile beyond the tree answers 'beyond'.
 */
export function checkServedTile(
  source: TileCheckSource,
  address: TileAddress,
  bytes: Uint8Array,
): 'beyond' | string | undefined {
  const { level, n, width } = address;
  const size = source.tree.size;
  const count = level === 'entries' ? size : Math.floor(size / TILE_WIDTH ** level);
  if (n * TILE_WIDTH + width > count) return 'beyond';
  if (level !== 'entries') {
    const expected = source.tree.tileBytes(level * 8, n, width);
    if (bytes.length !== expected.length)
      return `cut short or padded (${bytes.length} of ${expected.length} bytes)`;
    return sameBytes(bytes, expected) ? undefined : 'its hashes differ from the write-ahead log';
  }
  let entries: Uint8Array[];
  try {
    entries = decodeBundle(bytes);
  } catch {
    return 'does not parse as an entry bundle (cut short?)';
  }
  if (entries.length !== width) return `holds ${entries.length} entries, not ${width}`;
  for (const [i, entry] of entries.entries()) {
    const index = n * TILE_WIDTH + i;
    if (!sameBytes(hashLeaf(entry), source.tree.leafHash(index)))
      return `damaged: entry ${index} differs from the write-ahead log`;
  }
  return undefined;
}
