import { HASH_SIZE, hashChildren, sameBytes } from './hash.js';
import { half, isOdd, isTreeCount } from './tree-math.js';
import { accept, reject, type Verdict } from './verdict.js';

/**
 * RFC 9162 section 2.1.3.2: verifies that `leafHash` sits at `index` in the tree of
 * `treeSize` leaves whose root is `root`. Every malformed input is a refusal with a reason.
 */
export function verifyInclusion(
  index: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Verdict {
  if (!isTreeCount(index) || !isTreeCount(treeSize)) {
    return reject('LOG_MALFORMED_PROOF', 'index and tree size must be non-negative integers');
  }
  if (index >= treeSize) {
    return reject('LOG_INCLUSION_FAILED', `index ${index} is not below tree size ${treeSize}`);
  }
  if (!Array.isArray(proof)) return reject('LOG_MALFORMED_PROOF', 'the proof must be a list of hashes');
  const malformed = checkHashes([leafHash, root, ...proof]);
  if (malformed !== undefined) return malformed;

  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return reject('LOG_INCLUSION_FAILED', 'the proof has more hashes than the tree has levels');
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return reject('LOG_INCLUSION_FAILED', 'the proof has fewer hashes than the tree has levels');
  if (!sameBytes(r, root)) return reject('LOG_INCLUSION_FAILED', 'the proof leads to a different root');
  return accept();
}

/**
 * RFC 9162 section 2.1.4.2: verifies that the tree of `size2` leaves with root `root2`
 * extends the tree of `size1` leaves with root `root1`. As in the transparency-dev
 * reference verifier, a proof from the empty tree is refused: it proves nothing, so a
 * caller that starts from nothing should skip the check rather than "verify" it.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): Verdict {
  if (!isTreeCount(size1) || !isTreeCount(size2)) {
    return reject('LOG_MALFORMED_PROOF', 'tree sizes must be non-negative integers');
  }
  if (!Array.isArray(proof)) return reject('LOG_MALFORMED_PROOF', 'the proof must be a list of hashes');
  if (size2 < size1) return reject('LOG_CONSISTENCY_FAILED', `size ${size2} is smaller than size ${size1}`);
  if (size1 === 0)
    return reject('LOG_CONSISTENCY_FAILED', 'a consistency proof from the empty tree proves nothing');
  if (size1 === size2) {
    if (!(root1 instanceof Uint8Array) || !(root2 instanceof Uint8Array)) {
      return reject('LOG_MALFORMED_PROOF', 'roots must be byte arrays');
    }
    if (proof.length > 0) return reject('LOG_CONSISTENCY_FAILED', 'equal sizes need an empty proof');
    if (!sameBytes(root1, root2)) return reject('LOG_CONSISTENCY_FAILED', 'equal sizes but different roots');
    return accept();
  }
  if (proof.length === 0) return reject('LOG_CONSISTENCY_FAILED', 'the proof is empty');
  const malformed = checkHashes([root1, root2, ...proof]);
  if (malformed !== undefined) return malformed;

  // Step 2: when size1 is a power of two the old root is itself a node of the new tree.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const [first, ...rest] = path;
  if (first === undefined) return reject('LOG_CONSISTENCY_FAILED', 'the proof is empty');
  let fr = first;
  let sr = first;
  for (const c of rest) {
    if (sn === 0) return reject('LOG_CONSISTENCY_FAILED', 'the proof has more hashes than the trees need');
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return reject('LOG_CONSISTENCY_FAILED', 'the proof has fewer hashes than the trees need');
  if (!sameBytes(fr, root1))
    return reject('LOG_CONSISTENCY_FAILED', 'the proof does not lead to the old root');
  if (!sameBytes(sr, root2))
    return reject('LOG_CONSISTENCY_FAILED', 'the proof does not lead to the new root');
  return accept();
}

function isPowerOfTwo(n: number): boolean {
  let value = n;
  while (value > 1 && !isOdd(value)) value = half(value);
  return value === 1;
}

function checkHashes(hashes: readonly unknown[]): Verdict | undefined {
  for (const hash of hashes) {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      return reject('LOG_MALFORMED_PROOF', `every hash must be ${HASH_SIZE} bytes`);
    }
  }
  return undefined;
}
