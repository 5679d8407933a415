import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { logError } from './errors.js';
import { hashLeaf, sameBytes } from './hash.js';
import { TILE_WIDTH } from './hash-level.js';
import type { MerkleTree } from './merkle-tree.js';
import { entriesPath, tilePath } from './tile-path.js';

/** Reads committed entries [start, end) in order. */
export type EntryReader = (start: number, end: number) => Promise<Uint8Array[]>;

/** tlog-tiles entry bundles length-prefix each entry with a big-endian uint16. */
export const MAX_ENTRY_BYTES = 0xffff;

/**
 * The entries of the last partial entry bundle written (bundle `n`, in order from its first):
 * the next round appends to them instead of reading them back from the write-ahead log.
 */
export interface BundleCache {
  last?: { readonly n: number; readonly entries: readonly Uint8Array[] } | undefined;
}

/**
 * Writes the c2sp.org/tlog-tiles files that change when the tree grows from `from` to `to`
 * leaves: at each level, the tiles covering the new hashes (full ones and the right-edge
 * partial one), and the entry bundles covering the new entries. Partial tiles stay until
 * their full tile exists (a client holding an older checkpoint may still ask for them), then
 * are removed, as the spec allows. Only the entries new since `cache` are read (and checked).
 */
export async function writeTiles(
  dir: string,
  tree: MerkleTree,
  readEntries: EntryReader,
  from: number,
  to: number,
  cache: BundleCache = {},
): Promise<void> {
  if (from < 0 || to > tree.size || from > to) {
    throw logError(
      'LOG_OUT_OF_RANGE',
      `cannot write tiles from size ${from} to ${to} of a tree of ${tree.size}`,
    );
  }
  if (from === to) return;
  for (let level = 0, unit = 1; level <= 63; level += 1, unit *= TILE_WIDTH) {
    const countTo = Math.floor(to / unit);
    const countFrom = Math.floor(from / unit);
    if (countTo === countFrom) break; // no new hash here, so none above either
    for (let n = Math.floor(countFrom / TILE_WIDTH); n * TILE_WIDTH < countTo; n += 1) {
      const width = Math.min(TILE_WIDTH, countTo - n * TILE_WIDTH);
      const path = tilePath(level, n, width);
      await writeFileAtomic(join(dir, path), tree.tileBytes(level * 8, n, width));
      if (width === TILE_WIDTH) await rm(join(dir, `${path}.p`), { recursive: true, force: true });
    }
  }
  for (let n = Math.floor(from / TILE_WIDTH); n * TILE_WIDTH < to; n += 1) {
    const start = n * TILE_WIDTH;
    const end = Math.min(to, start + TILE_WIDTH);
    const path = entriesPath(n, end - start);
    const kept = cache.last?.n === n ? cache.last.entries.slice(0, end - start) : [];
    const fresh = await readEntries(start + kept.length, end);
    checkNewEntries(tree, fresh, start + kept.length, from);
    const entries = kept.concat(fresh);
    await writeFileAtomic(join(dir, path), encodeBundle(entries));
    cache.last = end - start < TILE_WIDTH ? { n, entries } : undefined;
    if (end - start === TILE_WIDTH) await rm(join(dir, `${path}.p`), { recursive: true, force: true });
  }
}

/**
 * The entries at `from` and beyond (new to the published tree) must hash to their leaves: the
 * one check of records that writers caught up on without their checksums (wal-scan.ts).
 */
function checkNewEntries(
  tree: MerkleTree,
  entries: readonly Uint8Array[],
  start: number,
  from: number,
): void {
  entries.forEach((entry, i) => {
    const index = start + i;
    if (index >= from && !sameBytes(hashLeaf(entry), tree.leafHash(index))) {
      throw logError(
        'LOG_CORRUPT',
        `log.wal record ${index}: its bytes do not hash to its stored leaf hash; nothing was published (see \`oacp log fsck\`)`,
      );
    }
  });
}

/** An entry bundle: each entry as uint16 big-endian length, then its bytes. */
export function encodeBundle(entries: readonly Uint8Array[]): Uint8Array {
  const total = entries.reduce((sum, entry) => sum + 2 + entry.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_BYTES) {
      throw logError('LOG_ENTRY_TOO_LARGE', `an entry bundle holds entries up to ${MAX_ENTRY_BYTES} bytes`);
    }
    view.setUint16(at, entry.length, false);
    out.set(entry, at + 2);
    at += 2 + entry.length;
  }
  return out;
}

/** Splits an entry bundle back into entries; throws LOG_CORRUPT on a truncated bundle. */
export function decodeBundle(bundle: Uint8Array): Uint8Array[] {
  const view = new DataView(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw logError('LOG_CORRUPT', 'an entry bundle ends inside a length prefix');
    const length = view.getUint16(at, false);
    if (at + 2 + length > bundle.length)
      throw logError('LOG_CORRUPT', 'an entry bundle ends inside an entry');
    entries.push(bundle.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}
