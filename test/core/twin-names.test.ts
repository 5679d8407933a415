import { describe, expect, it } from 'vitest';
import { imitatedMemberName, looseMemberProblem, twinMemberNames } from '../../src/core/twin-names.js';

describe('member names a lenient parser reads as one', () => {
  it('finds twins in one object, at any depth, and only in one object', () => {
    expect(twinMemberNames({ name: 'a', NAME: 'b' })).toEqual(['name', 'NAME']);
    expect(twinMemberNames({ x: [{ y: { path: 1, 'pat\u200bh': 2 } }] })).toEqual(['path', 'pat\u200bh']);
    expect(twinMemberNames({ arguments: 1, 'argument\u017f': 2 })).toEqual(['arguments', 'argument\u017f']);
    expect(twinMemberNames({ kelvin: 1, '\u212aelvin': 2 })).toEqual(['kelvin', '\u212aelvin']);
    // Only the top object when not deep; names in different objects are no twins.
    expect(twinMemberNames({ a: { b: 1, B: 2 } }, false)).toBeUndefined();
    expect(twinMemberNames({ a: { b: 1 }, c: { B: 2 } })).toBeUndefined();
    expect(twinMemberNames({ a: 1, b: 2, Ab: 3, __proto__x: 4 })).toBeUndefined();
    expect(twinMemberNames([1, 'x', null])).toBeUndefined();
  });

  it('finds a member imitating a known one, alone', () => {
    expect(imitatedMemberName({ name: 'echo', Arguments: {} }, ['name', 'arguments'])).toEqual([
      'Arguments',
      'arguments',
    ]);
    expect(imitatedMemberName({ name: 'echo', arguments: {} }, ['name', 'arguments'])).toBeUndefined();
    expect(looseMemberProblem({ name: 'echo', ' name': 'x' }, ['name'], 'params')).toContain(
      'only in case, spacing or Unicode form',
    );
  });

  it('walks 100,000 levels without recursion', () => {
    let value: unknown = { a: 1, A: 2 };
    for (let i = 0; i < 100_000; i++) value = { v: value };
    expect(twinMemberNames(value)).toEqual(['a', 'A']);
  });
});
