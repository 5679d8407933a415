import { describe, expect, it } from 'vitest';
import { inProcess, lightUpstream, SERVERS } from './helpers.js';

/**
 * Two requests in flight under one `progressToken`: the bridge mapped the token to the last
 * one, so the first call's progress went to the second (over Streamable HTTP, to the second
 * POST's stream). The second is refused, with a receipt; the token is free once the first is
 * answered.
 */
describe('a progressToken already in flight', () => {
  it('attack over Streamable HTTP: a second call under the same token is refused and recorded, never forwarded', async () => {
    const harness = await inProcess(lightUpstream('everything', [SERVERS.everything, 'stdio']), {
      via: 'http',
    });
    try {
      // The SDK client reports progress under a token it did not make as an error naming it.
      const progress: string[] = [];
      harness.client.onerror = (error) => {
        if (/progress notification for an unknown token/.test(error.message)) progress.push(error.message);
      };
      const call = (duration: number, steps = 2) =>
        harness.client.callTool({
          name: 'trigger-long-running-operation',
          arguments: { duration, steps },
          _meta: { progressToken: 7 },
        });
      // Two POSTs may be taken in either order: the second goes once the first has reported progress
      // (at 1 s), and the first runs long enough to be still in flight on a loaded host.
      const first = call(4, 4);
      await expect.poll(() => progress.length).toBeGreaterThan(0);
      const second = await call(0.1);
      expect(second.isError).toBe(true);
      expect(JSON.stringify(second.content)).toMatch(
        /progressToken 7 is already used by a request in flight/,
      );
      const refused = harness.receipts.records.find((record) => record.decision.effect === 'deny');
      expect(refused).toMatchObject({ tool: 'trigger-long-running-operation', outcome: 'denied' });
      expect((await first).isError).not.toBe(true);
      // Forwarded once: one allowed call before the token is free, then the third goes through.
      expect((await call(0.1)).isError).not.toBe(true);
      expect(harness.receipts.records.filter((record) => record.decision.effect === 'allow')).toHaveLength(2);
    } finally {
      await harness.close();
    }
  }, 30_000);
});
