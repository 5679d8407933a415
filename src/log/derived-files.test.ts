import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { DerivedFiles } from './derived-files.js';
import { FileLock } from './file-lock.js';
import { hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { ed25519NoteSigner, formatVerifierKey, SIG_TYPE_ED25519 } from './note-keys.js';

const origin = 'oacp.example/derived';
const signer = keySigner(generateEd25519().privateKey);
const noteSigner = ed25519NoteSigner(origin, signer);
const vkey = formatVerifierKey(origin, SIG_TYPE_ED25519, signer.publicKey);

async function derivedFiles(
  dir: string,
  tree: MerkleTree,
  readEntries: (start: number, end: number) => Promise<Uint8Array[]>,
): Promise<DerivedFiles> {
  return new DerivedFiles(
    {
      dir,
      vkey,
      tree,
      readEntries,
      signedCheckpoint: (size) =>
        signCheckpoint({ origin, size, root: tree.root(size), extensions: [] }, noteSigner),
      lock: await FileLock.open(join(dir, 'publish.lock')),
      refresh: async () => undefined,
      datasync: async () => undefined,
      durableSize: () => tree.size,
      stateFile: undefined,
      stateLock: undefined,
      signed: () => undefined,
    },
    0,
  );
}

const sizeOf = (dir: string) => readFileSync(join(dir, 'checkpoint'), 'utf8').split('\n')[1];

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function setup() {
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
  const derived = await derivedFiles(dir, tree, async (start, end) => entries.slice(start, end));
  return { dir, add, derived };
}

describe('DerivedFiles', () => {
  it('writes the partial tiles of every size a checkpoint was issued for, not only the latest', async () => {
    const { dir, add, derived } = await setup();
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
    expect(sizeOf(dir)).toBe('35');
  });

  it('writes a checkpoint for the empty tree, and nothing else', async () => {
    const { dir, derived } = await setup();
    await derived.settle();
    expect(sizeOf(dir)).toBe('0');
    expect(existsSync(join(dir, 'tile'))).toBe(false);
  });

  it('reports a failed write from settle() and retries on the next request', async () => {
    const { dir } = await setup();
    const entries: Uint8Array[] = [];
    let broken = true;
    const tree = new MerkleTree();
    const derived = await derivedFiles(dir, tree, async (start, end) => {
      if (broken) throw new Error('disk unplugged');
      return entries.slice(start, end);
    });
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
