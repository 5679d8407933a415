import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DerivedFiles } from './derived-files.js';
import { hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-derived-'));
  dirs.push(dir);
  const entries: Uint8Array[] = [];
  const tree = new MerkleTree();
  const add = (n: number) => {
    for (let i = 0; i < n; i += 1) {
      const entry = new TextEncoder().encode(`entry ${entries.length}`);
      entries.push(entry);
      tree.push(hashLeaf(entry));
    }
  };
  const derived = new DerivedFiles(
    dir,
    tree,
    async (start, end) => entries.slice(start, end),
    (size) => `checkpoint at ${size}\n`,
    0,
    false,
  );
  return { dir, add, derived };
}

describe('DerivedFiles', () => {
  it('writes the partial tiles of every size a checkpoint was issued for, not only the latest', async () => {
    const { dir, add, derived } = setup();
    add(10);
    derived.checkpointIssued(10);
    add(20);
    derived.checkpointIssued(30);
    add(5);
    await derived.settle();
    expect(derived.published).toBe(35);
    for (const width of [10, 30, 35]) {
      expect(existsSync(join(dir, `tile/0/000.p/${width}`)), `level 0 width ${width}`).toBe(true);
      expect(existsSync(join(dir, `tile/entries/000.p/${width}`)), `bundle width ${width}`).toBe(true);
    }
    expect(existsSync(join(dir, 'tile/0/000.p/20'))).toBe(false);
    expect(readFileSync(join(dir, 'checkpoint'), 'utf8')).toBe('checkpoint at 35\n');
  });

  it('writes a checkpoint for the empty tree, and nothing else', async () => {
    const { dir, derived } = setup();
    await derived.settle();
    expect(readFileSync(join(dir, 'checkpoint'), 'utf8')).toBe('checkpoint at 0\n');
    expect(existsSync(join(dir, 'tile'))).toBe(false);
  });

  it('reports a failed write from settle() and retries on the next request', async () => {
    const { dir } = setup();
    const entries: Uint8Array[] = [];
    let broken = true;
    const tree = new MerkleTree();
    const derived = new DerivedFiles(
      dir,
      tree,
      async (start, end) => {
        if (broken) throw new Error('disk unplugged');
        return entries.slice(start, end);
      },
      (size) => `checkpoint at ${size}\n`,
      0,
      false,
    );
    for (let i = 0; i < 3; i += 1) {
      const entry = new TextEncoder().encode(`e${i}`);
      entries.push(entry);
      tree.push(hashLeaf(entry));
    }
    await expect(derived.settle()).rejects.toThrow('disk unplugged');
    expect(derived.published).toBe(0);
    broken = false;
    await derived.settle();
    expect(derived.published).toBe(3);
  });
});
