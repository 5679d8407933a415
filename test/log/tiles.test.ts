import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashLeaf } from '../../src/log/hash.js';
import { MerkleTree } from '../../src/log/merkle-tree.js';
import { decodeBundle, writeTiles } from '../../src/log/tile-writer.js';
import { filesUnder, rootFromTiles } from './tile-client.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('tile files for a 70,000-entry tree (the tlog-tiles example)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-tiles-'));
  dirs.push(dir);
  const entries = Array.from({ length: 70_000 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
  const tree = new MerkleTree();
  for (const entry of entries) tree.push(hashLeaf(entry));
  const read = async (start: number, end: number) => entries.slice(start, end);

  it('writes exactly the full and partial tiles the spec lists, removing superseded partials', async () => {
    let from = 0;
    for (const to of [1, 300, 65_536, 70_000]) {
      await writeTiles(dir, tree, read, from, to);
      if (to === 300) expect(rootFromTiles(dir, 300)).toEqual(tree.root(300));
      from = to;
    }
    const files = filesUnder(dir).map((path) => relative(dir, path));
    const level0 = files.filter((f) => f.startsWith('tile/0/'));
    expect(level0.filter((f) => !f.includes('.p/'))).toHaveLength(273);
    expect(level0.filter((f) => f.includes('.p/'))).toEqual(['tile/0/273.p/112']);
    expect(files.filter((f) => f.startsWith('tile/1/')).sort()).toEqual(['tile/1/000', 'tile/1/001.p/17']);
    expect(files.filter((f) => f.startsWith('tile/2/'))).toEqual(['tile/2/000.p/1']);
    expect(files.filter((f) => f.startsWith('tile/entries/') && f.includes('.p/'))).toEqual([
      'tile/entries/273.p/112',
    ]);
    expect(files.filter((f) => f.startsWith('tile/entries/'))).toHaveLength(274);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    expect(readFileSync(join(dir, 'tile/0/000')).length).toBe(8192);
  });

  it('lets a client recompute roots from the tiles alone', () => {
    // Sizes a checkpoint was written for (partial tiles exist for them) and full-tile boundaries.
    for (const size of [1, 256, 300, 512, 65_536, 70_000]) {
      expect(Buffer.from(rootFromTiles(dir, size)).toString('hex'), `size ${size}`).toBe(
        Buffer.from(tree.root(size)).toString('hex'),
      );
    }
  });

  it('writes entry bundles whose entries hash to the level-0 tile', () => {
    const bundle = decodeBundle(new Uint8Array(readFileSync(join(dir, 'tile/entries/273.p/112'))));
    expect(bundle).toHaveLength(112);
    const tile = readFileSync(join(dir, 'tile/0/273.p/112'));
    bundle.forEach((entry, i) => {
      expect(Buffer.from(hashLeaf(entry)).equals(tile.subarray(i * 32, i * 32 + 32))).toBe(true);
    });
    expect(new TextDecoder().decode(bundle[0])).toBe(`entry ${273 * 256}`);
  });

  it('refuses a range beyond the tree', async () => {
    await expect(writeTiles(dir, tree, read, 0, 70_001)).rejects.toThrow(/cannot write tiles/);
  });
});
