import { describe, expect, it } from 'vitest';
import { MAX_SERVER_IN_FLIGHT } from '../../src/mcp/server-traffic.js';
import { eventually, initialized, rawHarness } from './raw-harness.js';

/**
 * The other way of client-in-flight.test.ts: a server asks the client things (pings, sampling) and
 * the client is slow to answer, or never does. Each request passed down was kept until answered,
 * without bound, so a server could grow the bridge as it liked. Past MAX_SERVER_IN_FLIGHT waiting
 * on the client, a server request is refused with an error, and recorded.
 */
describe('a server that asks its client more than it answers', () => {
  it(`attack: ${MAX_SERVER_IN_FLIGHT + 76} pings at once to a client that answers none for a while: ${MAX_SERVER_IN_FLIGHT} reach it, the rest are refused with receipts; once answered, the call completes`, async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const pings = () => raw.received.filter((message) => message.method === 'ping');
      const answer = raw.request(
        {
          jsonrpc: '2.0',
          id: 'many',
          method: 'tools/call',
          params: { name: 'ask-many', arguments: { count: MAX_SERVER_IN_FLIGHT + 76 } },
        },
        30_000,
      );
      const refused = () => raw.receipts.records.filter((record) => record.tool === 'server-request:ping');
      await eventually(() => refused().length === 76, 'the refused pings recorded');
      expect(pings()).toHaveLength(MAX_SERVER_IN_FLIGHT);
      for (const record of refused()) {
        expect(record.outcome).toBe('denied');
        expect(record.decision.reason).toMatch(/1024 requests to the client in flight/);
      }
      // The client answers what it was sent: the server hears the rest were refused.
      for (const ping of pings()) raw.send({ jsonrpc: '2.0', id: ping.id as number, result: {} });
      const reply = await answer;
      expect(JSON.stringify(reply.result)).toContain('\\"refused\\":76');
      expect(JSON.stringify(reply.result)).toContain('1024 requests to the client in flight');
    } finally {
      await raw.close();
    }
  }, 60_000);
});
