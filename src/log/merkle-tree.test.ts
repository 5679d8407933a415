import { describe, expect, it } from 'vitest';
import { emptyRoot, hashChildren, hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { verifyConsistency, verifyInclusion } from './proof-verify.js';

/** RFC 6962 section 2.1 MTH written straight from the definition, to check the indexed tree against. */
function naiveRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return leaves[0] ?? emptyRoot();
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hashChildren(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

function entry(i: number): Uint8Array {
  return new TextEncoder().encode(`entry ${i}`);
}

function treeOf(n: number): { tree: MerkleTree; leaves: Uint8Array[] } {
  const tree = new MerkleTree();
  const leaves = Array.from({ length: n }, (_, i) => hashLeaf(entry(i)));
  for (const leaf of leaves) tree.push(leaf);
  return { tree, leaves };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('MerkleTree (RFC 6962 section 2.1)', () => {
  it('has the SHA-256 of the empty string as the empty root', () => {
    expect(hex(new MerkleTree().root())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('computes every historical root like the recursive definition', () => {
    const { tree, leaves } = treeOf(300);
    for (let size = 0; size <= 300; size += 1) {
      expect(hex(tree.root(size))).toBe(hex(naiveRoot(leaves.slice(0, size))));
    }
  });

  it('produces the C2SP merkle-tree example proofs for a 7-entry tree', () => {
    const { tree, leaves } = treeOf(7);
    const [, b, c, d, , f, g] = leaves.map(hex);
    const node = (l: number, r: number) => hex(naiveRoot(leaves.slice(l, r)));
    const [h, i, j, k, l] = [node(0, 2), node(2, 4), node(4, 6), node(0, 4), node(4, 7)];
    expect(tree.inclusionProof(0).map(hex)).toEqual([b, i, l]);
    expect(tree.inclusionProof(3).map(hex)).toEqual([c, h, l]);
    expect(tree.inclusionProof(4).map(hex)).toEqual([f, g, k]);
    expect(tree.inclusionProof(6).map(hex)).toEqual([j, k]);
    expect(tree.consistencyProof(3, 7).map(hex)).toEqual([c, d, h, l]);
    expect(tree.consistencyProof(4, 7).map(hex)).toEqual([l]);
    expect(tree.consistencyProof(6, 7).map(hex)).toEqual([j, g, k]);
  });

  it('generates inclusion proofs that verify, and fail for a neighbouring index', () => {
    const { tree, leaves } = treeOf(70);
    for (let size = 1; size <= 70; size += 1) {
      const root = tree.root(size);
      for (let index = 0; index < size; index += 1) {
        const leaf = leaves[index] ?? new Uint8Array();
        const proof = tree.inclusionProof(index, size);
        expect(verifyInclusion(index, size, leaf, proof, root).ok).toBe(true);
        if (size > 1) expect(verifyInclusion((index + 1) % size, size, leaf, proof, root).ok).toBe(false);
      }
    }
  });

  it('generates consistency proofs that verify, and fail against a wrong old root', () => {
    const { tree } = treeOf(70);
    for (let size2 = 1; size2 <= 70; size2 += 1) {
      const root2 = tree.root(size2);
      for (let size1 = 1; size1 <= size2; size1 += 1) {
        const proof = tree.consistencyProof(size1, size2);
        expect(verifyConsistency(size1, size2, proof, tree.root(size1), root2).ok).toBe(true);
        if (size1 > 1)
          expect(verifyConsistency(size1, size2, proof, tree.root(size1 - 1), root2).ok).toBe(false);
      }
    }
  });

  it('returns empty consistency proofs from the empty tree and between equal sizes', () => {
    const { tree } = treeOf(5);
    expect(tree.consistencyProof(0, 5)).toEqual([]);
    expect(tree.consistencyProof(5, 5)).toEqual([]);
  });

  it('refuses indices and sizes outside the tree', () => {
    const { tree } = treeOf(5);
    expect(() => tree.inclusionProof(5, 5)).toThrow(/LOG|not below/);
    expect(() => tree.inclusionProof(0, 6)).toThrow(/beyond/);
    expect(() => tree.inclusionProof(-1)).toThrow(/not below/);
    expect(() => tree.inclusionProof(1.5)).toThrow(/not below/);
    expect(() => tree.consistencyProof(4, 3)).toThrow(/no consistency proof/);
    expect(() => tree.root(6)).toThrow(/beyond/);
    expect(() => tree.push(new Uint8Array(31))).toThrow(/32 bytes/);
    try {
      tree.leafHash(9);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('LOG_OUT_OF_RANGE');
    }
  });

  it('hands out copies, so callers cannot alter the tree', () => {
    const { tree } = treeOf(4);
    const root = tree.root();
    tree.leafHash(0).fill(0);
    tree.inclusionProof(0)[0]?.fill(0);
    expect(hex(tree.root())).toBe(hex(root));
  });
});
