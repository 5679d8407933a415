import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../src/core/jcs.js';
import { jcsOrderedCopy } from '../../src/core/jcs-ordered.js';

/** JSON.stringify of the ordered copy: what statementBytes writes for a built statement. */
function fastForm(value: unknown): string | undefined {
  const copy = jcsOrderedCopy(value);
  return copy === undefined ? undefined : JSON.stringify(copy);
}

/** Rebuilds a value with every object's members in reverse order (own members, so `__proto__` stays one). */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .reverse()
      .map((key) => [key, reversed((value as Record<string, unknown>)[key])]),
  );
}

/** Names JavaScript enumerates out of insertion order, or that an assignment would not add as a member. */
const awkwardName = (name: string) => /^(?:0|[1-9][0-9]*)$/.test(name) || name === '__proto__';

function hasAwkwardName(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasAwkwardName);
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, inner]) => awkwardName(key) || hasAwkwardName(inner));
}

describe('jcsOrderedCopy: a tree JSON.stringify writes in its JCS form', () => {
  it('any JSON value, its members in any order: the copy is written exactly as canonicalize writes the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const each of [value, reversed(value)]) {
          const fast = fastForm(each);
          // Refused only for the names it must refuse; otherwise the fast form is taken and is the JCS form.
          if (fast === undefined) expect(hasAwkwardName(each)).toBe(true);
          else expect(fast).toBe(canonicalize(each));
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('strings and names that need escapes, and numbers the ECMAScript way, as canonicalize writes them', () => {
    const value = {
      'é😀\u2028': ['a"b', 'c\\d', '\u0001\u001f\u007f', 'x\ud800', ''],
      numbers: [1e21, -0, 0.1 + 0.2, 5e-324, -1.5e-7, 2 ** 53 + 2],
      '\uFFFF': true,
      '\u{1F600}': null,
      '': { z: 1, Z: 2, _: 3, ' ': 4 },
    };
    expect(fastForm(value)).toBe(canonicalize(value));
    expect(fastForm(reversed(value))).toBe(canonicalize(value));
  });

  it('attack: values JSON.stringify would write differently from JCS are refused, left to canonicalize', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = { again: cycle };
    const refused: unknown[] = [
      // Index-like names enumerate first and numerically: JSON.stringify would write "9" before "10".
      { '10': 1, '9': 2 },
      { a: { '0': 'x' } },
      { '4294967294': 1, a: 2 },
      // An own member named __proto__ (JSON.parse makes one): assigning it would set a prototype.
      JSON.parse('{"__proto__":{"x":1},"a":2}'),
      // JSON.stringify writes null for these, or leaves them out; JCS refuses them.
      { a: [1, undefined] },
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: () => 1 },
      { a: 1n },
      // A toJSON is the generic writer's business (a Date, say).
      { when: new Date(0) },
      { a: 1, toJSON: () => ({ z: 1 }) },
      // Too deep, and cycles (which are too deep).
      JSON.parse(`${'['.repeat(100)}1${']'.repeat(100)}`),
      cycle,
    ];
    for (const value of refused) expect(jcsOrderedCopy(value)).toBeUndefined();
    // Members whose value is undefined are left out, as both writers do.
    expect(fastForm({ b: 1, a: undefined })).toBe('{"b":1}');
    // Long digit names are not array indexes: JavaScript keeps their insertion order, so they sort like any name.
    expect(fastForm({ '99999999999': 1, '100000000000': 2, a: 3 })).toBe(
      canonicalize({ '99999999999': 1, '100000000000': 2, a: 3 }),
    );
  });

  it('attack: the copy cannot be changed, nor follow changes made to the original after it was taken', () => {
    const original = { b: { list: [{ d: 1 }] }, a: 'x' };
    const copy = jcsOrderedCopy(original) as typeof original;
    const before = JSON.stringify(copy);
    original.b.list[0] = { d: 2 };
    original.a = 'y';
    expect(JSON.stringify(copy)).toBe(before);
    expect(Object.isFrozen(copy) && Object.isFrozen(copy.b) && Object.isFrozen(copy.b.list)).toBe(true);
    expect(Object.isFrozen(copy.b.list[0])).toBe(true);
    expect(() => {
      (copy.b.list as unknown[]).push(1);
    }).toThrow(TypeError);
  });
});
