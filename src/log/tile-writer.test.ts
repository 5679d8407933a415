import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { encodeTileIndex, entriesPath, tilePath } from './tile-path.js';
import { decodeBundle, encodeBundle, IN_TURNS_OF_THREE, ONE_AT_A_TIME, writeTiles } from './tile-writer.js';

describe('c2sp.org/tlog-tiles paths', () => {
  it('encodes N in 3-digit groups with x on all but the last', () => {
    expect(encodeTileIndex(0)).toBe('000');
    expect(encodeTileIndex(999)).toBe('999');
    expect(encodeTileIndex(1000)).toBe('x001/000');
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(tilePath(0, 1234067, 256)).toBe('tile/0/x001/x234/067');
    expect(tilePath(2, 5, 17)).toBe('tile/2/005.p/17');
    expect(entriesPath(1, 1)).toBe('tile/entries/001.p/1');
  });

  it('refuses levels, widths and indices outside the spec', () => {
    expect(() => tilePath(64, 0, 1)).toThrow(/level/);
    expect(() => tilePath(0, 0, 0)).toThrow(/width/);
    expect(() => tilePath(0, -1, 1)).toThrow(/index/);
    expect(() => entriesPath(0, 257)).toThrow(/width/);
  });
});

describe('entry bundles', () => {
  it('length-prefixes entries with a big-endian uint16 and decodes back', () => {
    const bundle = encodeBundle([new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300)]);
    expect(Array.from(bundle.subarray(0, 5))).toEqual([0, 3, 1, 2, 3]);
    expect(Array.from(bundle.subarray(5, 9))).toEqual([0, 0, 1, 44]);
    expect(decodeBundle(bundle).map((e) => e.length)).toEqual([3, 0, 300]);
    expect(() => decodeBundle(bundle.subarray(0, 4))).toThrow(/ends inside/);
    expect(() => encodeBundle([new Uint8Array(65536)])).toThrow(/65535/);
  });
});

describe('writeTiles paces', () => {
  /** Every file under `dir`, path -> bytes. */
  function filesUnder(dir: string): Map<string, string> {
    const found = new Map<string, string>();
    for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      const path = join(dir, name);
      if (statSync(path).isFile()) found.set(name, readFileSync(path).toString('hex'));
    }
    return found;
  }

  it('writes the same files three at a time with 16 bundles per read as one at a time, across rounds with a bundle cache', async () => {
    const entries = Array.from({ length: 4_700 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
    const tree = new MerkleTree();
    for (const entry of entries) tree.push(hashLeaf(entry));
    const reader = async (start: number, end: number) => entries.slice(start, end);
    const root = mkdtempSync(join(tmpdir(), 'oacp-pace-'));
    try {
      const results = [];
      for (const pace of [ONE_AT_A_TIME, IN_TURNS_OF_THREE]) {
        const dir = join(root, String(pace.filesInFlight));
        const cache = {};
        // Rounds that start and stop inside bundles, and one over more than 16 bundles.
        for (const [from, to] of [
          [0, 100],
          [100, 300],
          [300, 4_500],
          [4_500, 4_700],
        ] as const)
          await writeTiles(dir, tree, reader, from, to, cache, pace);
        results.push(filesUnder(dir));
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[0]?.get(entriesPath(17, 256))).toBe(
        Buffer.from(encodeBundle(entries.slice(17 * 256, 18 * 256))).toString('hex'),
      );
      expect(results[0]?.has(entriesPath(18, 92))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses an entry that does not hash to its leaf, at either pace', async () => {
    const entries = Array.from({ length: 600 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
    const tree = new MerkleTree();
    for (const entry of entries) tree.push(hashLeaf(entry));
    const altered = entries.map((entry, i) => (i === 555 ? new TextEncoder().encode('forged') : entry));
    const reader = async (start: number, end: number) => altered.slice(start, end);
    const root = mkdtempSync(join(tmpdir(), 'oacp-pace-'));
    try {
      for (const pace of [ONE_AT_A_TIME, IN_TURNS_OF_THREE]) {
        await expect(
          writeTiles(join(root, String(pace.filesInFlight)), tree, reader, 0, 600, {}, pace),
        ).rejects.toThrow(/record 555/);
        expect(existsSync(join(root, String(pace.filesInFlight), entriesPath(2, 88)))).toBe(false);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
