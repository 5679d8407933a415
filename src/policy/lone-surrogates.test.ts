import { describe, expect, it } from 'vitest';
import { loneSurrogatePath } from './lone-surrogates.js';

describe('loneSurrogatePath', () => {
  it('passes whole pairs (emoji) and finds a lone half at any depth, in values or names', () => {
    expect(loneSurrogatePath({ a: ['😀', { b: 'ok\ud83d\ude00' }] }, 'arguments')).toBeUndefined();
    expect(loneSurrogatePath({ a: ['x', { b: 'ok\ud83d' }] }, 'arguments')).toBe('arguments.a[1].b');
    expect(loneSurrogatePath({ 'my key': '\ude00x' }, 'arguments')).toBe('arguments["my key"]');
    expect(loneSurrogatePath({ 'k\udc00': 1 }, 'arguments')).toBe('arguments["k\\udc00"] (its name)');
    expect(loneSurrogatePath('tool\ud800', 'the tool name')).toBe('the tool name');
  });
});
