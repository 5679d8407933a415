import { describe, expect, it } from 'vitest';
import { encodeTileIndex, entriesPath, tilePath } from './tile-path.js';
import { decodeBundle, encodeBundle } from './tile-writer.js';

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
