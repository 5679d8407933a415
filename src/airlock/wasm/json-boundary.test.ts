import { describe, expect, it } from 'vitest';
import { decodeFromGuest, encodeForGuest, jsonDepth } from './json-boundary.js';

const limits = { maxBytes: 1000, maxDepth: 8 };

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('jsonDepth', () => {
  it('counts nesting and ignores brackets inside strings', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('[[{"a":[1]}]]')).toBe(4);
    expect(jsonDepth('["[[[[", "\\"[[["]')).toBe(1);
  });
});

describe('encodeForGuest', () => {
  it('turns undefined into null and keeps plain values', () => {
    expect(encodeForGuest(undefined, limits, 'input')).toBe('null');
    expect(encodeForGuest({ a: [1, 'x'] }, limits, 'input')).toBe('{"a":[1,"x"]}');
  });

  it('refuses values JSON cannot carry, too big or too deep', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeForGuest(cyclic, limits, 'input')).toThrow(/input is not JSON-serializable/);
    expect(() => encodeForGuest(10n, limits, 'input')).toThrow(/not JSON-serializable/);
    expect(() => encodeForGuest('x'.repeat(2000), limits, 'input')).toThrow(
      'input is 2002 bytes, more than the 1000-byte limit',
    );
    expect(() => encodeForGuest([[[[[[[[[[]]]]]]]]]], limits, 'input')).toThrow(
      'input nests 10 levels deep, more than the 8-level limit',
    );
    expect(code(() => encodeForGuest(cyclic, limits, 'input'))).toBe('WASM_BAD_INPUT');
  });
});

describe('decodeFromGuest', () => {
  it('parses plain JSON', () => {
    expect(decodeFromGuest('{"a":[1,{"b":null}]}', limits, 'result')).toEqual({ a: [1, { b: null }] });
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s at any depth', (key) => {
    const text = `{"ok":{"deep":[{"${key}":{"polluted":true}}]}}`;
    expect(() => decodeFromGuest(text, limits, 'result')).toThrow(
      `result contains the key "${key}", which is refused at the sandbox boundary (prototype pollution)`,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses malformed, oversized and over-deep text with WASM_BAD_VALUE', () => {
    expect(code(() => decodeFromGuest('{', limits, 'result'))).toBe('WASM_BAD_VALUE');
    expect(code(() => decodeFromGuest(`"${'x'.repeat(2000)}"`, limits, 'result'))).toBe('WASM_BAD_VALUE');
    expect(code(() => decodeFromGuest('['.repeat(50) + ']'.repeat(50), limits, 'result'))).toBe(
      'WASM_BAD_VALUE',
    );
  });
});
