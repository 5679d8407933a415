import { logError } from './errors.js';
import { emptyRoot, HASH_SIZE, hashChildren } from './hash.js';
import { HashLevel } from './hash-level.js';
import { exactLog2, isTreeCount, splitPoint } from './tree-math.js';

/**
 * An in-memory RFC 6962 Merkle tree that keeps every complete subtree hash: level k
 * holds the hashes of the aligned subtrees of 2^k leaves. Appending stores the leaf hash
 * only; the subtree hashes above it are computed when something first needs them (a root,
 * a proof, a tile), one hash per leaf amortised. So a writer process that only catches up on
 * the records other writers appended, and never publishes or proves, never hashes them.
 * A root, inclusion proof or consistency proof for any tree size then costs O(log n)
 * hashes, because every range RFC 6962 asks for is a complete subtree (a lookup) except
 * those on the right edge of the requested tree, and each of those is hashed once per call.
 */
export class MerkleTree {
  private readonly levels: HashLevel[] = [new HashLevel()];

  get size(): number {
    return this.level(0).length;
  }

  /** Appends a leaf hash (SHA-256(0x00 || entry)) and returns its index. */
  push(leafHash: Uint8Array): number {
    if (leafHash.length !== HASH_SIZE) {
      throw logError('LOG_MALFORMED_PROOF', `a leaf hash is ${HASH_SIZE} bytes, got ${leafHash.length}`);
    }
    const index = this.size;
    this.level(0).push(leafHash);
    return index;
  }

  /** Computes the complete subtree hashes that leaves pushed since the last call make possible. */
  private build(): void {
    for (let height = 0; ; height += 1) {
      const below = this.level(height);
      if (below.length < 2) return;
      if (this.levels.length === height + 1) this.levels.push(new HashLevel());
      const above = this.level(height + 1);
      for (let i = above.length; 2 * i + 1 < below.length; i += 1) {
        above.push(hashChildren(below.view(2 * i), below.view(2 * i + 1)));
      }
    }
  }

  leafHash(index: number): Uint8Array {
    this.checkIndex(index, this.size);
    return this.level(0).view(index).slice();
  }

  /** The Merkle Tree Hash of the first `size` leaves. */
  root(size: number = this.size): Uint8Array {
    this.checkSize(size);
    if (size === 0) return emptyRoot();
    this.build();
    return this.rangeHash(0, size, new Map()).slice();
  }

  /** RFC 9162 section 2.1.3.1 PATH(index, D[0:size]), leaf sibling first. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.checkSize(size);
    this.checkIndex(index, size);
    this.build();
    const memo = new Map<string, Uint8Array>();
    const path: Uint8Array[] = [];
    let start = 0;
    let end = size;
    while (end - start > 1) {
      const k = splitPoint(end - start);
      if (index < start + k) {
        path.push(this.rangeHash(start + k, end, memo));
        end = start + k;
      } else {
        path.push(this.rangeHash(start, start + k, memo));
        start += k;
      }
    }
    return path.reverse().map((hash) => hash.slice());
  }

  /** RFC 9162 section 2.1.4.1 PROOF(oldSize, D[0:newSize]); empty when either size is 0 or they are equal. */
  consistencyProof(oldSize: number, newSize: number = this.size): Uint8Array[] {
    this.checkSize(newSize);
    if (!isTreeCount(oldSize) || oldSize > newSize) {
      throw logError('LOG_OUT_OF_RANGE', `no consistency proof from size ${oldSize} to size ${newSize}`);
    }
    if (oldSize === 0 || oldSize === newSize) return [];
    this.build();
    const memo = new Map<string, Uint8Array>();
    const proof: Uint8Array[] = [];
    let start = 0;
    let end = newSize;
    let includeRoot = false; // SUBPROOF's b, inverted: true once we have left the old tree's own root
    for (;;) {
      if (oldSize === end) {
        if (includeRoot) proof.push(this.rangeHash(start, end, memo));
        break;
      }
      const k = splitPoint(end - start);
      if (oldSize <= start + k) {
        proof.push(this.rangeHash(start + k, end, memo));
        end = start + k;
      } else {
        proof.push(this.rangeHash(start, start + k, memo));
        start += k;
        includeRoot = true;
      }
    }
    return proof.reverse().map((hash) => hash.slice());
  }

  /**
   * `width` consecutive hashes at tree height `height`, starting at hash `tile * 256`: the
   * body of tlog tile (height / 8, tile). Every hash must be complete at the current size.
   */
  tileBytes(height: number, tile: number, width: number): Uint8Array {
    this.build();
    const level = this.levels[height];
    if (level === undefined || tile * 256 + width > level.length) {
      throw logError(
        'LOG_OUT_OF_RANGE',
        `tile ${tile} of width ${width} at height ${height} is not complete`,
      );
    }
    return level.tileBytes(tile, width);
  }

  /** MTH(D[start:end]) where start is aligned to a power of two >= end - start (always so in RFC 6962 recursion). */
  private rangeHash(start: number, end: number, memo: Map<string, Uint8Array>): Uint8Array {
    const count = end - start;
    const height = exactLog2(count);
    if (height >= 0) return this.level(height).view(start / count);
    const key = `${start}:${end}`;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    const k = splitPoint(count);
    const hash = hashChildren(this.rangeHash(start, start + k, memo), this.rangeHash(start + k, end, memo));
    memo.set(key, hash);
    return hash;
  }

  private level(height: number): HashLevel {
    const level = this.levels[height];
    if (level === undefined) throw logError('LOG_OUT_OF_RANGE', `the tree has no level ${height}`);
    return level;
  }

  private checkSize(size: number): void {
    if (!isTreeCount(size) || size > this.size) {
      throw logError('LOG_OUT_OF_RANGE', `tree size ${size} is beyond the log's size ${this.size}`);
    }
  }

  private checkIndex(index: number, size: number): void {
    if (!isTreeCount(index) || index >= size) {
      throw logError('LOG_OUT_OF_RANGE', `index ${index} is not below tree size ${size}`);
    }
  }
}
