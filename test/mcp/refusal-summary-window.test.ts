import { describe, expect, it } from 'vitest';
import { MCP_SUPPRESSED_REFUSALS } from '../../src/mcp/refusal-receipts.js';
import { rpc, withInitialized } from './raw-harness.js';

/**
 * docs/mcp-bridge.md promises one `mcp:refusals-suppressed` receipt a minute while a bridge keeps
 * running, but only the summary written at close was tested through the bridge. Here the
 * limiter's clock (a bridge option, not a user flag) is moved past the one-minute window while
 * the session stays open: the summary is in the log before close, with the count of the refused
 * messages answered without a receipt, and verifies. The real bridge, the raw server behind it.
 */
describe('the refusal summary receipt of a bridge that keeps running', () => {
  it('attack: a flood of refused messages, then a minute: its summary receipt is written before close, with the right count', async () => {
    let now = 1_000_000;
    const limit = 2;
    const flood = 12;
    await withInitialized(
      async (raw) => {
        const summaries = () =>
          raw.receipts.records.filter((record) => record.tool === MCP_SUPPRESSED_REFUSALS);
        // A method name imitating tools/call: refused before any check, never forwarded.
        const answers = await Promise.all(
          Array.from({ length: flood }, (_, i) =>
            raw.request(rpc(100 + i, 'Tools/Call', { name: 'echo', arguments: { i } })),
          ),
        );
        const unreceipted = answers.filter(
          (answer) =>
            (answer.result as { _meta?: Record<string, unknown> })._meta?.['oacp/receipt'] === undefined,
        ).length;
        expect(unreceipted).toBe(flood - limit);
        expect(summaries()).toHaveLength(0);
        // The window ends while the session is open; the next refusal (or the limiter's timer) writes the summary.
        now += 61_000;
        await raw.request(rpc(999, 'Tools/Call', { name: 'echo', arguments: {} }));
        const deadline = Date.now() + 10_000;
        while (summaries().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(summaries()).toHaveLength(1);
        const index = raw.receipts.records.findIndex((record) => record.tool === MCP_SUPPRESSED_REFUSALS);
        const ref = raw.receipts.refs[index];
        const verified = await raw.receipts.verify(ref?.index ?? -1);
        expect(verified.ok).toBe(true);
        expect(verified.predicate).toMatchObject({
          tool: { name: MCP_SUPPRESSED_REFUSALS },
          outcome: 'denied',
        });
        const reason = summaries()[0]?.decision.reason ?? '';
        expect(reason).toMatch(new RegExp(`^${flood - limit} refused client messages from 1 session `));
      },
      {
        refusalReceipts: { perSourcePerMinute: limit, overallPerMinute: 10 * limit },
        refusalClock: () => now,
      },
    );
  }, 60_000);
});
