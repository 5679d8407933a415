import { concat, equalBytes, sha256 } from './bytes.js';

/** RFC 6962 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(Uint8Array.of(0), entry));
}

function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(Uint8Array.of(1), left, right));
}

export type InclusionVerdict = { ok: true } | { ok: false; reason: string };

/** RFC 9162 §2.1.3.2: the root that `proof` yields for leaf `index` of a tree of `size` must be `root`. */
export async function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<InclusionVerdict> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return { ok: false, reason: `index ${index} is not inside a tree of size ${size}` };
  let fn = index;
  let sn = size - 1;
  let hash = leaf;
  for (const sibling of proof) {
    if (sn === 0) return { ok: false, reason: 'the proof has more hashes than the tree has levels' };
    if (fn % 2 === 1 || fn === sn) {
      hash = await nodeHash(sibling, hash);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      hash = await nodeHash(hash, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return { ok: false, reason: 'the proof has fewer hashes than the tree has levels' };
  if (!equalBytes(hash, root))
    return { ok: false, reason: "the proof does not lead to the checkpoint's root" };
  return { ok: true };
}
