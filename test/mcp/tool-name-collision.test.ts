import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { qualifiedToolName, SERVER_NAME_PATTERN, splitToolName } from '../../src/mcp/tool-names.js';

/**
 * Issue 10 (tool names colliding across aggregated servers): a server name may not hold `__`, but
 * it could end with `_`, so tool `_x` of server `a` and tool `x` of server `a_` were both `a___x`:
 * the second was routed to the first, and a Cedar policy or a tools filter on one name stood for
 * both servers' tools. A server name no longer ends with `_`, and every qualified name splits back
 * into the server and tool it was made of.
 */
describe('qualified tool names are one-to-one', () => {
  it('attack: servers "a" and "a_" would share a___x; "a_" is refused naming the field', () => {
    expect(() =>
      parseGatewayConfig({ mcp: { servers: [{ name: 'a_', command: '/bin/true' }] } }, '/tmp'),
    ).toThrow(/mcp\.servers\[0\]\.name: must not end with "_"/);
    expect(SERVER_NAME_PATTERN.test('a_')).toBe(false);
    expect(SERVER_NAME_PATTERN.test('a-')).toBe(true);
    expect(SERVER_NAME_PATTERN.test('a')).toBe(true);
  });

  it('property: every allowed server name and any tool name split back into themselves', () => {
    const server = fc
      .stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/)
      .filter((name) => SERVER_NAME_PATTERN.test(name) && !name.includes('__'));
    const tool = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
    fc.assert(
      fc.property(server, tool, (s, t) => {
        expect(splitToolName(qualifiedToolName(s, t))).toEqual({ server: s, tool: t });
      }),
      { numRuns: 2000 },
    );
  });
});
