import { describe, expect, it } from 'vitest';
import { MAX_CEDAR_DEPTH, toCedarArguments, toCedarValue } from './context.js';

describe('toCedarValue', () => {
  it('keeps strings, booleans and safe integers', () => {
    expect(toCedarValue('a')).toBe('a');
    expect(toCedarValue(true)).toBe(true);
    expect(toCedarValue(-42)).toBe(-42);
    expect(toCedarValue(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('turns what Cedar cannot hold into its JSON text', () => {
    expect(toCedarValue(1.5)).toBe('1.5');
    expect(toCedarValue(2 ** 70)).toBe('1.1805916207174113e+21');
    expect(toCedarValue(Number.MAX_SAFE_INTEGER + 1)).toBe('9007199254740992');
    expect(toCedarValue(null)).toBe('null');
    expect(toCedarValue({ __entity: { type: 'Agent', id: 'x' } })).toBe(
      '{"__entity":{"id":"x","type":"Agent"}}',
    );
    expect(toCedarValue({ __extn: { fn: 'ip', arg: '1.2.3.4' } })).toBe(
      '{"__extn":{"arg":"1.2.3.4","fn":"ip"}}',
    );
  });

  it('maps arrays and objects recursively', () => {
    expect(toCedarValue([1, null, { a: 0.5 }])).toEqual([1, 'null', { a: '0.5' }]);
  });

  it('stops at the depth limit', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < MAX_CEDAR_DEPTH + 2; i++) deep = { d: deep };
    let value = toCedarValue(deep);
    let levels = 0;
    while (typeof value === 'object' && !Array.isArray(value)) {
      value = (value as { d: never }).d;
      levels++;
    }
    expect(levels).toBe(MAX_CEDAR_DEPTH);
    expect(typeof value).toBe('string');
  });

  it('always gives a record for the arguments', () => {
    expect(toCedarArguments(undefined)).toEqual({});
    expect(toCedarArguments({ x: 1, skip: undefined })).toEqual({ x: 1 });
  });
});
