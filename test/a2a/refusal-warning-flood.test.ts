import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { startNode } from './harness.js';

const HEADERS = {
  'content-type': 'application/json',
  'A2A-Version': '1.0',
  'A2A-Extensions': OACP_A2A_EXTENSION,
};

/**
 * Issue 10: each unauthenticated A2A refusal wrote an operator-log warning, unlimited, while its
 * receipt was limited: a flood of unsigned messages flooded the log. The warnings are now limited
 * by the same limiter class and limits (a2a.refusal_receipts), per client address, and what is
 * left out is logged once per window as a count.
 */
describe('A2A at the gateway: the operator log under a flood of unsigned messages', () => {
  it('attack: 1,000 unsigned messages from one address: bounded warnings, then one summary with the count', async () => {
    const PER_SOURCE = 5;
    const node = await startNode([], {
      refusal_receipts: { per_source_per_minute: PER_SOURCE, overall_per_minute: 50 },
    });
    let closed = false;
    try {
      await node.agent('alice');
      const started = Date.now();
      const TOTAL = 1_000;
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < TOTAL) {
            next += 1;
            const response = await fetch(`${node.url}/a2a/alice`, {
              method: 'POST',
              headers: HEADERS,
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: 1,
                method: 'SendMessage',
                params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: 'hi' }] } },
              }),
            });
            const answer = (await response.json()) as { error?: { message: string } };
            expect(answer.error?.message).toBeDefined();
          }
        }),
      );
      const bound = PER_SOURCE + Math.ceil(((Date.now() - started) / 60_000) * PER_SOURCE);
      const refused = node.lines.filter((line) => line.msg === 'a2a request refused');
      expect(refused.length).toBeGreaterThanOrEqual(PER_SOURCE);
      expect(refused.length).toBeLessThanOrEqual(bound);
      expect(refused[0]).toMatchObject({ agent: 'alice', source: '127.0.0.1' });
      await node.close();
      closed = true;
      const summaries = node.lines.filter((line) => line.msg === 'a2a refusals not logged');
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({ agent: 'alice', count: TOTAL - refused.length, sources: 1 });
      expect(node.lines.length).toBeLessThan(bound + 20);
    } finally {
      if (!closed) await node.close();
    }
  }, 240_000);
});
