import { describe, expect, it } from 'vitest';
import { eventually, initialized, rawHarness, rpc } from './raw-harness.js';

/**
 * Each session of a bridge (each --http client) has its own server process, whose tools/list may
 * differ by its state: a call is checked against the listing of its own session's server, never
 * against what another session's server listed last. (A tool whose definition differs between
 * sessions is refused by its pin, which is the server's, shared by every session: a rug pull.)
 */
describe('tool listings per session', () => {
  it('attack: a tool only another session’s server lists is not callable here as if listed', async () => {
    const raw = await rawHarness({ env: { RAW_CHANGES: '1' } });
    try {
      await initialized(raw);
      const other = await raw.another();
      await initialized(other);
      await raw.request(rpc(1, 'tools/call', { name: 'echo', arguments: {} }));
      const changed = await other.request(rpc(1, 'tools/call', { name: 'change-tools', arguments: {} }));
      expect(JSON.stringify(changed.result)).toContain('changed');
      await eventually(
        () => raw.serverGot().filter((message) => message.method === 'tools/list').length >= 3,
        'the other session’s listing after list_changed',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const answer = await raw.request(rpc(2, 'tools/call', { name: 'added', arguments: { path: '/d' } }));
      expect(JSON.stringify(answer.result)).toContain('is not in the tools/list of server');
      expect(raw.receipts.records.at(-1)).toMatchObject({ tool: 'added', outcome: 'denied' });
      // This session's server still lists echo: its calls go on.
      const echo = await raw.request(rpc(3, 'tools/call', { name: 'echo', arguments: { n: 1 } }));
      expect(echo.error).toBeUndefined();
      expect(JSON.stringify(echo.result)).not.toContain('oacp/shape');
    } finally {
      await raw.close();
    }
  });
});
