import { describe, expect, it } from 'vitest';
import { jsonDepth } from '../../src/core/bounded-json.js';
import { duplicateJsonKey } from '../../src/core/duplicate-key.js';
import { JsonStrings } from '../../src/core/json-strings.js';

/** The one reading of where a JSON string begins and ends that the nesting and duplicate-member scans share. */
describe('JsonStrings', () => {
  const inside = (text: string) => {
    const strings = new JsonStrings();
    return [...text].map((char) => (strings.step(char.charCodeAt(0)) ? 's' : '.')).join('');
  };

  it('marks a string with its quotes, and skips an escaped quote or backslash inside it', () => {
    expect(inside('{"a":1}')).toBe('.sss...');
    expect(inside('["a\\"b",2]')).toBe('.ssssss...');
    expect(inside('["a\\\\",{}]')).toBe('.sssss....');
  });

  it('brackets and quotes inside strings are neither nesting nor member names, for both scans', () => {
    const tricky = '{"a":"}\\"{[","b":["\\\\",{"a":1}],"c":"\\"a\\":"}';
    expect(jsonDepth(tricky)).toBe(3);
    expect(duplicateJsonKey(tricky)).toBeUndefined();
    expect(duplicateJsonKey('{"x":"\\"","x":2}')).toBe('x');
  });
});
