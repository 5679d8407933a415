import { describe, expect, it } from 'vitest';
import { imitatedMethod, MCP_METHODS } from './method-names.js';

describe('imitatedMethod', () => {
  it('an exact MCP method imitates nothing, and no two methods read alike', () => {
    for (const method of MCP_METHODS) expect(imitatedMethod(method), method).toBeUndefined();
  });

  it('every method spelled loosely is named as the method it imitates', () => {
    for (const method of MCP_METHODS) {
      const spellings = [
        method.toUpperCase(),
        `${method[0]?.toUpperCase()}${method.slice(1)}`,
        ` ${method}`,
        `${method}\t`,
        `${method.slice(0, 2)}\u200b${method.slice(2)}`,
        `\ufeff${method}`,
        method.replace('/', '\uff0f'),
        `${method}\u00ad`,
        // Its first letter full-width (NFKC folds it back).
        `${String.fromCharCode(method.charCodeAt(0) + 0xfee0)}${method.slice(1)}`,
      ];
      for (const spelling of spellings) {
        if (spelling === method) continue;
        expect(imitatedMethod(spelling), JSON.stringify(spelling)).toBe(method);
      }
    }
  });

  it('an extension method that reads as no MCP method is left alone', () => {
    expect(imitatedMethod('x-vendor/tools/call')).toBeUndefined();
    expect(imitatedMethod('tools/calls')).toBeUndefined();
  });
});
