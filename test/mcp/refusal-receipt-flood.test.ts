import { describe, expect, it } from 'vitest';
import { DEFAULT_REFUSAL_RECEIPT_LIMITS } from '../../src/airlock/quota/refusal-limit.js';
import { MCP_SUPPRESSED_REFUSALS } from '../../src/mcp/refusal-receipts.js';
import { type RawClient, rpc, withInitialized } from './raw-harness.js';

/**
 * Each client message the bridge refused wrote a signed, fsynced receipt, with no limit: a client
 * sending refused messages as fast as it can grew the log (and spent the signing CPU) without
 * bound. They are now limited with the one refusal limiter (src/mcp/refusal-receipts.ts), per
 * session and for all sessions of a server: past the limits each is still refused, answered the
 * same less its receipt, and counted; the count is recorded in one summary receipt. A call the
 * pipeline refused, and a call it allowed, keep their receipts. The real bridge (library), the
 * raw server from fixtures behind it.
 */
const FLOOD = 400;
/** A method name imitating tools/call: refused before any check, never forwarded, each recorded. */
const imitation = (id: number) => rpc(id, 'Tools/Call', { name: 'echo', arguments: { n: id } });

async function flood(client: RawClient, from: number): Promise<{ receipted: number; counted: number }> {
  const answers = await Promise.all(
    Array.from({ length: FLOOD }, (_, i) => client.request(imitation(from + i), 60_000)),
  );
  let receipted = 0;
  let counted = 0;
  for (const answer of answers) {
    const result = answer.result as {
      isError: boolean;
      _meta?: Record<string, unknown>;
      content: [{ text: string }];
    };
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toContain('OACP denied this call');
    if (result._meta?.['oacp/receipt'] !== undefined) receipted++;
    else if (result.content[0].text.includes('counted in a summary receipt')) counted++;
  }
  return { receipted, counted };
}

describe('refused client messages: receipts are limited, the rest counted in a summary receipt', () => {
  it('attack: 400 refused messages from one session, then 400 from another, write a bounded number of receipts and one summary with the rest', async () => {
    let individual = 0;
    await withInitialized(async (raw) => {
      const first = await flood(raw, 1_000);
      const { perSourcePerMinute } = DEFAULT_REFUSAL_RECEIPT_LIMITS;
      // The session's burst, plus what refills meanwhile (one every 2 s).
      expect(first.receipted).toBeGreaterThanOrEqual(perSourcePerMinute);
      expect(first.receipted).toBeLessThanOrEqual(perSourcePerMinute + 3);
      expect(first.receipted + first.counted).toBe(FLOOD);
      // Another session has its own share, within the overall limit.
      const other = await raw.another();
      await other.request(
        rpc(1, 'initialize', {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'b', version: '1' },
        }),
      );
      const second = await flood(other, 5_000);
      expect(second.receipted).toBeGreaterThanOrEqual(perSourcePerMinute);
      expect(second.receipted).toBeLessThanOrEqual(perSourcePerMinute + 3);
      // Nothing of it reached the server.
      expect(raw.serverGot().filter((message) => message.method === 'Tools/Call')).toHaveLength(0);
      // A call the policy allows still runs, with its receipt: only refusals are limited.
      const allowed = await raw.request(rpc('ok', 'tools/call', { name: 'echo', arguments: { fine: true } }));
      expect((allowed.result as { _meta: Record<string, unknown> })._meta['oacp/receipt']).toBeDefined();
      individual = raw.receipts.records.filter(
        (record) => record.tool === 'echo' && record.outcome === 'denied',
      ).length;
      expect(individual).toBe(first.receipted + second.receipted);
      // No summary yet: the window is open.
      expect(raw.receipts.records.filter((record) => record.tool === MCP_SUPPRESSED_REFUSALS)).toHaveLength(
        0,
      );
      // Closing sums the open window up in one receipt, before the log closes.
      await raw.close();
      const summaries = raw.receipts.records.filter((record) => record.tool === MCP_SUPPRESSED_REFUSALS);
      expect(summaries).toHaveLength(1);
      const summary = summaries[0];
      expect(summary?.outcome).toBe('denied');
      const reason = summary?.decision.reason ?? '';
      const count = Number(/^(\d+) refused client messages from 2 sessions/.exec(reason)?.[1]);
      expect(individual + count, reason).toBe(2 * FLOOD);
      expect(reason).toContain('--refusal-receipts');
    });
  }, 120_000);
});
