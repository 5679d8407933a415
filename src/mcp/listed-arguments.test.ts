import { describe, expect, it } from 'vitest';
import { imitatedArgument, ListedArguments, MAX_LISTED_NAMES, MAX_LISTED_TOOLS } from './listed-arguments.js';

const listedOf = (schema: unknown) => {
  const listed = new ListedArguments();
  listed.observe('t', schema);
  const tool = listed.of('t');
  if (tool === undefined) throw new Error('not kept');
  return tool;
};

describe('ListedArguments', () => {
  it('finds a name imitating a listed one through anyOf branches and array items; exact and unlisted names pass', () => {
    const tool = listedOf({
      type: 'object',
      anyOf: [{ properties: { target: { type: 'object', properties: { url: { type: 'string' } } } } }],
      properties: { rows: { type: 'array', items: { properties: { id: {} } } } },
    });
    expect(imitatedArgument({ target: { url: 'x' }, rows: [{ id: 1 }], other: 1 }, tool)).toBeUndefined();
    expect(imitatedArgument({ TARGET: {} }, tool)).toContain('"TARGET", which is not "target"');
    expect(imitatedArgument({ target: { URL: 'x' } }, tool)).toContain('arguments.target holds');
    expect(imitatedArgument({ rows: [{ id: 1 }, { ID: 2 }] }, tool)).toContain('arguments.rows[1] holds');
    // An inherited name is no member: `toString` is not followed.
    expect(
      imitatedArgument(JSON.parse('{"__proto__":{"URL":1}}') as Record<string, unknown>, tool),
    ).toBeUndefined();
  });

  it('is bounded: a schema naming too many properties refuses its calls; the oldest tool goes past the tool cap', () => {
    const properties = Object.fromEntries(
      Array.from({ length: MAX_LISTED_NAMES + 1 }, (_, i) => [`p${i}`, {}]),
    );
    const huge = listedOf({ properties });
    expect(huge.ok).toBe(false);
    expect(imitatedArgument({}, huge)).toContain(`more than ${MAX_LISTED_NAMES} properties`);
    const listed = new ListedArguments();
    for (let i = 0; i <= MAX_LISTED_TOOLS; i++) listed.observe(`t${i}`, { properties: { a: {} } });
    expect(listed.of('t0')).toBeUndefined();
    expect(listed.of(`t${MAX_LISTED_TOOLS}`)?.ok).toBe(true);
  });

  it('retain forgets the tools a whole listing no longer names', () => {
    const listed = new ListedArguments();
    listed.observe('kept', { properties: { a: {} } });
    listed.observe('removed', { properties: { b: {} } });
    listed.retain(new Set(['kept', 'new']));
    expect(listed.of('kept')?.ok).toBe(true);
    expect(listed.of('removed')).toBeUndefined();
  });
});
