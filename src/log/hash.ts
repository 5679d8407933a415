import { createHash, hash, timingSafeEqual } from 'node:crypto';

/** RFC 6962 / RFC 9162 section 2.1 hashing with SHA-256. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** MTH({}) = SHA-256(""): the root of the empty tree (a fresh copy each call, so no caller can alter it). */
export function emptyRoot(): Uint8Array {
  return new Uint8Array(createHash('sha256').digest());
}

/** MTH({d}) = SHA-256(0x00 || d). */
export function hashLeaf(entry: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(entry).digest());
}

/**
 * SHA-256(0x01 || left || right), with the one-shot `crypto.hash` (about 4x cheaper than a
 * Hash object for 65 bytes): the publishing writer hashes the tree of every record.
 */

export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input.set(NODE_PREFIX, 0);
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return new Uint8Array(hash('sha256', input, 'buffer'));
}

/** Byte equality; constant time when the lengths match (hashes are public, but it costs nothing). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
