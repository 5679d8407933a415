import { HASH_SIZE } from './hash.js';

/** Hashes per chunk: one tlog-tiles tile, so a full tile is one chunk copied out. */
export const TILE_WIDTH = 256;
const CHUNK_BYTES = TILE_WIDTH * HASH_SIZE;

/**
 * An append-only array of 32-byte hashes stored in fixed 8 KiB chunks: no reallocation
 * as it grows (a million leaves never get copied), and no object per hash for the GC.
 */
export class HashLevel {
  private readonly chunks: Uint8Array[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(hash: Uint8Array): void {
    const slot = this.count % TILE_WIDTH;
    if (slot === 0) this.chunks.push(new Uint8Array(CHUNK_BYTES));
    this.chunkOf(this.count).set(hash, slot * HASH_SIZE);
    this.count += 1;
  }

  /** A read-only view (callers that hand the hash out must copy it). */
  view(index: number): Uint8Array {
    const offset = (index % TILE_WIDTH) * HASH_SIZE;
    return this.chunkOf(index).subarray(offset, offset + HASH_SIZE);
  }

  /** A copy of `width` consecutive hashes of chunk `tile` (the bytes of a tlog tile). */
  tileBytes(tile: number, width: number): Uint8Array {
    return this.chunkOf(tile * TILE_WIDTH).slice(0, width * HASH_SIZE);
  }

  private chunkOf(index: number): Uint8Array {
    const chunk = this.chunks[Math.floor(index / TILE_WIDTH)];
    if (chunk === undefined) throw new RangeError(`hash ${index} is beyond a level of ${this.count}`);
    return chunk;
  }
}
