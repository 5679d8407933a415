import { describe, expect, it } from 'vitest';
import { ToolPins } from '../../src/policy/pins.js';
import { initialized, rawHarness } from './raw-harness.js';

/**
 * Issue 10 (lookalike names, as for methods): a tool name that differs from a
 * denied or listed tool only in case, spacing, zero-width characters or
 * Unicode form is one name to a server that matches names leniently. A check
 * that matched only the exact name would be bypassed: `--tools '*,!echo'`
 * and then `tools/call` of `Echo` reached the server.
 */
const TWINS = ['Echo', 'ECHO', 'echo ', ' echo', 'echo\u200b', 'ｅｃｈｏ', 'echo\u0000', 'e\u00adcho'];
const toolCalls = (messages: Record<string, unknown>[]) => messages.filter((m) => m.method === 'tools/call');

describe('tool names that read as another tool', () => {
  it('attack: twins of a denied tool are denied too, with receipts; the server sees none of them', async () => {
    // No tools/list first: the deny entry alone must catch them (no pins to compare with).
    const raw = await rawHarness({ tools: { allow: ['*'], deny: ['echo'] }, pins: new ToolPins() });
    try {
      await initialized(raw);
      for (const [i, name] of [...TWINS, 'echo'].entries()) {
        const reply = await raw.request({
          jsonrpc: '2.0',
          id: `twin-${i}`,
          method: 'tools/call',
          params: { name, arguments: { i } },
        });
        expect(reply.result, JSON.stringify(name)).toMatchObject({ isError: true });
        expect(JSON.stringify(reply.result)).toMatch(/is denied by tools.deny entry|reads as its tool/);
      }
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.receipts.records.filter((r) => r.decision.effect === 'deny')).toHaveLength(TWINS.length + 1);
    } finally {
      await raw.close();
    }
  });

  it('attack: a name the server never listed that reads as one it listed is refused (a Cedar forbid on the listed name would not see it)', async () => {
    const raw = await rawHarness({ pins: new ToolPins() });
    try {
      await initialized(raw);
      await raw.request({ jsonrpc: '2.0', id: 'list', method: 'tools/list' });
      for (const [i, name] of TWINS.entries()) {
        const reply = await raw.request({
          jsonrpc: '2.0',
          id: `pinned-twin-${i}`,
          method: 'tools/call',
          params: { name, arguments: {} },
        });
        expect(JSON.stringify(reply.result), JSON.stringify(name)).toContain('reads as its tool \\"echo\\"');
      }
      expect(toolCalls(raw.serverGot())).toEqual([]);
      // The listed tool itself goes through; a name that reads as nothing listed is refused as unlisted.
      const echo = await raw.request({
        jsonrpc: '2.0',
        id: 'real',
        method: 'tools/call',
        params: { name: 'echo', arguments: { ok: 1 } },
      });
      expect(JSON.stringify(echo.result)).toContain('ok');
      const other = await raw.request({
        jsonrpc: '2.0',
        id: 'other',
        method: 'tools/call',
        params: { name: 'unlisted', arguments: {} },
      });
      expect(JSON.stringify(other.result)).toContain('is not in the tools/list');
      expect(JSON.stringify(other.result)).not.toContain('reads as its tool');
      expect(toolCalls(raw.serverGot()).map((m) => (m.params as { name: string }).name)).toEqual(['echo']);
    } finally {
      await raw.close();
    }
  });
});
