import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, sha256Hex } from './digest.js';
import { jcsDigest } from './jcs.js';

/** The Hash object the one-shot digests must agree with, byte for byte. */
const reference = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

describe('sha256 digests (one-shot)', () => {
  it('match the known answers and a Hash object, a string hashed as its UTF-8 bytes', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const text of ['é', 'naïve € \u{1F600}', '\u0000\uFFFF', 'x'.repeat(100_000)]) {
      expect(sha256(text)).toEqual(reference(Buffer.from(text, 'utf8')));
      expect(sha256Hex(text)).toBe(reference(text).toString('hex'));
    }
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    expect(sha256(bytes)).toEqual(reference(bytes));
    expect(sha256Hex(bytes.subarray(10, 20))).toBe(reference(bytes.subarray(10, 20)).toString('hex'));
  });

  it('jcsDigest digests the canonical form as UTF-8, members sorted', () => {
    expect(jcsDigest({ b: 1, a: 'é\u{1F600}' })).toBe(reference('{"a":"é\u{1F600}","b":1}').toString('hex'));
  });
});
