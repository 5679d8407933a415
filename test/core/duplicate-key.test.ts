import { describe, expect, it } from 'vitest';
import { duplicateJsonKey } from '../../src/core/duplicate-key.js';

describe('duplicate JSON member names', () => {
  it('attack: a repeated name is found at any depth, also when one spelling is escaped', () => {
    expect(duplicateJsonKey('{"payload":"A","payload":"B"}')).toBe('payload');
    expect(duplicateJsonKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(duplicateJsonKey('[1,{"x":{"k" : 1, "j":[{"k":2}], "k":3}}]')).toBe('k');
    expect(duplicateJsonKey(`${'['.repeat(50_000)}{"a":1,"a":1}${']'.repeat(50_000)}`)).toBe('a');
    expect(duplicateJsonKey('{"__proto__":1,"__proto__":2}')).toBe('__proto__');
  });

  it('passes the same name in sibling objects, strings that look like names, and escaped quotes', () => {
    expect(duplicateJsonKey('[{"a":1},{"a":2}]')).toBeUndefined();
    expect(duplicateJsonKey('{"a":{"a":{"a":1}}}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":["b","b"],"b":"a:"}')).toBeUndefined();
    expect(duplicateJsonKey('{"q\\"":1,"q":2,"s":"\\\\","t":"x\\"y"}')).toBeUndefined();
    expect(duplicateJsonKey('"a"')).toBeUndefined();
    expect(duplicateJsonKey('{}')).toBeUndefined();
  });
});
