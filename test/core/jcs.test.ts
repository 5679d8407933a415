import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize, jcsDigest } from '../../src/core/jcs.js';

function nested(depth: number): unknown {
  return JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
}

describe('JCS (RFC 8785)', () => {
  it('sorts members, drops undefined members and writes numbers the ECMAScript way', () => {
    expect(canonicalize({ b: [1, 'x', null, true], a: { d: 1e21, c: -0 }, u: undefined })).toBe(
      '{"a":{"c":0,"d":1e+21},"b":[1,"x",null,true]}',
    );
    expect(canonicalize({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it('attack: arguments nested 3,000 and 100,000 deep canonicalize and digest without overflowing the stack', () => {
    for (const depth of [3_000, 100_000]) {
      const value = nested(depth);
      const text = canonicalize(value);
      expect(text.length).toBe(2 * depth + 1);
      expect(jcsDigest(value)).toBe(createHash('sha256').update(text).digest('hex'));
    }
    const deepObject = JSON.parse(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
    expect(canonicalize(deepObject).length).toBe(5 * 50_000 + 1 + 50_000);
  });

  it('refuses what JSON cannot hold, naming where, instead of dropping it', () => {
    expect(() => canonicalize({ a: [1, Number.NaN] })).toThrow(/\$\.a\[1\]: NaN/);
    expect(() => canonicalize({ f: () => 1 })).toThrow(/function/);
    const cycle: Record<string, unknown> = {};
    cycle.self = { again: cycle };
    expect(() => canonicalize(cycle)).toThrow(/cycle/);
    // A value seen twice side by side is no cycle.
    const shared = { x: 1 };
    expect(canonicalize([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });

  it('digests the same bytes it canonicalizes for large values', () => {
    const value = { list: Array.from({ length: 50_000 }, (_, i) => ({ i, s: `é${i}` })) };
    expect(jcsDigest(value)).toBe(createHash('sha256').update(canonicalize(value), 'utf8').digest('hex'));
  });
});
