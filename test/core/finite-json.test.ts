import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFiniteJson } from '../../src/core/bounded-json.js';

/** What parseFiniteJson reported when a reviver looked at every value: the oracle it is held to. */
function withReviver(text: string): { value: unknown; outOfRange?: string } {
  let outOfRange: string | undefined;
  const value: unknown = JSON.parse(text, (key, inner: unknown) => {
    if (typeof inner === 'number' && !Number.isFinite(inner)) outOfRange ??= key;
    return inner;
  });
  return outOfRange === undefined ? { value } : { value, outOfRange };
}

describe('parseFiniteJson', () => {
  it('names the first number too large for a double, wherever it sits, as a reviver would', () => {
    expect(parseFiniteJson('1e400')).toEqual({ value: Number.POSITIVE_INFINITY, outOfRange: '' });
    expect(parseFiniteJson('{"a":{"b":[1,-1E+400]},"c":2e999}').outOfRange).toBe('1');
    expect(parseFiniteJson(`{"n":${'9'.repeat(309)}}`).outOfRange).toBe('n');
    expect(parseFiniteJson('{"__proto__":1e400}').outOfRange).toBe('__proto__');
    // The same digits inside strings are text, not numbers: nothing to refuse.
    expect(parseFiniteJson('{"sha256":"3e178a","n":"1e400"}')).toEqual({
      value: { sha256: '3e178a', n: '1e400' },
    });
  });

  it('finds the number under any depth without recursing', () => {
    const deep = `${'['.repeat(100_000)}1e400${']'.repeat(100_000)}`;
    expect(parseFiniteJson(deep).outOfRange).toBe('0');
  });

  it('gives what a reviver over every value gives, for any JSON holding numbers and look-alike strings', () => {
    const number = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
      fc.constantFrom(
        '1e400',
        '-1E+400',
        '2e999',
        '1e123',
        '0.5e308',
        '1e308',
        '3e178',
        `${'7'.repeat(310)}`,
      ),
    );
    const text = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        number,
        fc.constantFrom('"3e178"', '"e999"', '"abc"', 'true', 'null'),
        fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
        fc
          .array(fc.tuple(fc.constantFrom('a', 'b', '0', '10', 'e123', '__proto__'), tie('value')), {
            maxLength: 4,
          })
          .map((members) => `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
      ),
    })).value;
    fc.assert(
      fc.property(text, (json) => {
        expect(parseFiniteJson(json)).toEqual(withReviver(json));
      }),
      { numRuns: 3000 },
    );
  });
});
