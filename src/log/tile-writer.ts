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
  pace: WritePace = ONE_AT_A_TIME,
): Promise<void> {
  if (from < 0 || to > tree.size || from > to) {
    throw logError(
      'LOG_OUT_OF_RANGE',
      `cannot write tiles from size ${from} to ${to} of a tree of ${tree.size}`,
    );
  }
  if (from === to) return;
  const writes: Array<() => Promise<void>> = [];
  for (let level = 0, unit = 1; level <= 63; level += 1, unit *= TILE_WIDTH) {
    const countTo = Math.floor(to / unit);
    const countFrom = Math.floor(from / unit);
    if (countTo === countFrom) break; // no new hash here, so none above either
    for (let n = Math.floor(countFrom / TILE_WIDTH); n * TILE_WIDTH < countTo; n += 1) {
      const width = Math.min(TILE_WIDTH, countTo - n * TILE_WIDTH);
      const path = tilePath(level, n, width);
      const bytes = tree.tileBytes(level * 8, n, width);
      writes.push(() => writeTile(dir, path, bytes, width));
    }
  }
  await inTurns(writes, pace.filesInFlight);
  // Bundles a chunk at a time: one read of the write-ahead log for the chunk's new entries,
  // then its files written in turns, as the hash tiles were.
  for (let first = Math.floor(from / TILE_WIDTH); first * TILE_WIDTH < to; first += pace.bundlesPerRead) {
    const kept = cache.last?.n === first ? cache.last.entries : [];
    const chunkStart = first * TILE_WIDTH;
    const chunkEnd = Math.min(to, (first + pace.bundlesPerRead) * TILE_WIDTH);
    const start = chunkStart + Math.min(kept.length, chunkEnd - chunkStart);
    const fresh = await readEntries(start, chunkEnd);
    checkNewEntries(tree, fresh, start, from);
    const entries = kept.slice(0, start - chunkStart).concat(fresh);
    const bundles: Array<() => Promise<void>> = [];
    for (let at = 0; at < entries.length; at += TILE_WIDTH) {
      const n = first + at / TILE_WIDTH;
      const bundle = entries.slice(at, at + TILE_WIDTH);
      const path = entriesPath(n, bundle.length);
      const bytes = encodeBundle(bundle);
      bundles.push(() => writeTile(dir, path, bytes, bundle.length));
      cache.last = bundle.length < TILE_WIDTH ? { n, entries: bundle } : undefined;
    }
    await inTurns(bundles, pace.filesInFlight);
  }
}

/**
 * How a call spends thread-pool round trips: tile and bundle files written at once (each is an
 * open, a write, a close and a rename, each ending on a turn of the event loop), and bundles
 * whose new entries are read from the write-ahead log with one read.
 */
export interface WritePace {
  readonly filesInFlight: number;
  readonly bundlesPerRead: number;
}

/** What rounds beside appends use: the cheapest in CPU per receipt (docs/transparency-log.md). */
export const ONE_AT_A_TIME: WritePace = { filesInFlight: 1, bundlesPerRead: 1 };

/**
 * For a round nobody of its process appends beside (close, sync): about a quarter of the event
 * loop turns. At most 16 x 256 entries (about 6 MiB of receipts) are held at once, and the
 * fourth thread-pool thread stays free for the write-ahead log's fdatasync.
 */
export const IN_TURNS_OF_THREE: WritePace = { filesInFlight: 3, bundlesPerRead: 16 };

/**
 * Runs `writes` with at most `inFlight` at once. After a failure no further write starts, and
 * the first failure is thrown once the writes in flight have ended (none outlives the round).
 *
 * Each file is several thread-pool calls (open, write, close, rename), each ending on a turn of
 * the event loop, which a process busy signing makes long: one file at a time, a round of
 * 20,000 new entries (about 160 files) took 0.9 s. Three at a time took a quarter of that, but
 * cost a saturated writer about 10% more CPU per receipt (measured in docs/transparency-log.md),
 * so only a round nobody appends beside (`close()`, `sync()`) writes three at a time. Reading
 * 16 bundles with one read looked to cost a saturated writer a little CPU too (6 us per receipt
 * in two runs), so it goes with it.
 */
async function inTurns(writes: ReadonlyArray<() => Promise<void>>, inFlight: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < writes.length) {
      const write = writes[next] as () => Promise<void>;
      next += 1;
      try {
        await write();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, writes.length)) }, lane));
  if (failure !== undefined) throw failure.error;
}

/** One tile or bundle, written atomically; a full one replaces its partial ones (the spec allows it). */
async function writeTile(dir: string, path: string, bytes: Uint8Array, width: number): Promise<void> {
  await writeFileAtomic(join(dir, path), bytes);
  if (width === TILE_WIDTH) await rm(join(dir, `${path}.p`), { recursive: true, force: true });
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
