import { createHash } from 'node:crypto';
import fc from 'fast-check';
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

  it('digests the UTF-8 of the form: a small value (the one-shot hash) as a large one', () => {
    for (const value of [{ m: 'é😀\u2028' }, 'Ω', ['\ud800', { ключ: 1 }], 3]) {
      const form = canonicalize(value);
      expect(jcsDigest(value)).toBe(createHash('sha256').update(Buffer.from(form, 'utf8')).digest('hex'));
    }
  });

  it('escapes names and strings as JSON.stringify does, where a plain one is written as it is', () => {
    const tricky = [
      'a"b',
      'c\\d',
      '\u0001',
      '\u001f',
      '\u007f',
      ' ',
      '~',
      'x\ud800',
      'é',
      '\u2028',
      '',
      'plain-name_1',
    ];
    for (const text of tricky) {
      expect(canonicalize(text)).toBe(JSON.stringify(text));
      expect(canonicalize({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
    }
  });

  it('digests the same bytes it canonicalizes for large values', () => {
    const value = { list: Array.from({ length: 50_000 }, (_, i) => ({ i, s: `é${i}` })) };
    expect(jcsDigest(value)).toBe(createHash('sha256').update(canonicalize(value), 'utf8').digest('hex'));
  });

  it('any JSON value, its members in any order, gets the form the RFC defines, and its digest is over that form', () => {
    // The case fast-check found once: a member named __proto__ inside arrays.
    const found = JSON.parse('[[{"__proto__":false}]]');
    expect(canonicalize(sortedCopy(found))).toBe('[[{"__proto__":false}]]');
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const sorted = sortedCopy(value);
        const expected = reference(value);
        expect(canonicalize(value)).toBe(expected);
        expect(canonicalize(sorted)).toBe(expected);
        expect(jcsDigest(sorted)).toBe(createHash('sha256').update(expected, 'utf8').digest('hex'));
      }),
    );
  });

  it('orders member names by UTF-16 code units, for few members (sorted in place) and many', () => {
    // U+1F600 is written as surrogates (0xD83D 0xDE00): before U+FFFF in code units, after it in code points.
    const names = ['\u{1F600}', '\uFFFF', 'b', 'B', 'a', '10', '9', '', 'é', 'e\u0301', 'aa', 'a ', '_', '~'];
    const many = Array.from({ length: 40 }, (_, i) => `k${(i * 7) % 40}`);
    for (const size of [2, 3, 14, 16, 17, 40]) {
      const keys = [...names, ...many].slice(0, size).reverse();
      const value = Object.fromEntries(keys.map((key, i) => [key, i]));
      expect(canonicalize(value)).toBe(reference(value));
      expect(canonicalize({ deep: [value], ...value })).toBe(reference({ deep: [value], ...value }));
    }
    expect(canonicalize({ '\uFFFF': 1, '\u{1F600}': 2 })).toBe('{"\u{1F600}":2,"\uFFFF":1}');
  });

  it('attack: values that JSON.stringify writes differently from JCS get their JCS form or a refusal', () => {
    // Integer-like names enumerate numerically; JCS orders them as strings.
    expect(canonicalize({ '10': 1, '9': 2 })).toBe('{"10":1,"9":2}');
    // JSON.stringify writes null for these; JCS has no form for them.
    expect(() => canonicalize({ a: [1, undefined] })).toThrow(/undefined/);
    expect(() => canonicalize({ a: Number.POSITIVE_INFINITY })).toThrow(/Infinity/);
    expect(() => canonicalize({ a: () => 1 })).toThrow(/function/);
    // A toJSON, own or inherited, is applied as before.
    expect(canonicalize({ a: 1, toJSON: () => ({ z: 1, b: 2 }) })).toBe('{"b":2,"z":1}');
    expect(canonicalize({ a: new Date(0) })).toBe('{"a":"1970-01-01T00:00:00.000Z"}');
    // A member named __proto__ (JSON.parse makes it an own member) is written like any other.
    expect(canonicalize(JSON.parse('{"__proto__":{"x":1},"a":2}'))).toBe('{"__proto__":{"x":1},"a":2}');
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [true] });
    expect(canonicalize(bare)).toBe('{"a":1,"b":[true]}');
  });
});

/** JCS as the RFC writes it, for values without a toJSON: members sorted, scalars as JSON.stringify writes them. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sortedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCopy);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  // fromEntries defines own members, so a generated "__proto__" stays a member (an
  // assignment would set the copy's prototype instead and drop it).
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, sortedCopy(record[key])]),
  );
}
