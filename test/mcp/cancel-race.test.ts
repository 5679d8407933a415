import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { toolCallPredicate } from '../../src/mcp/receipts.js';
import type { ToolCallRecord } from '../../src/mcp/record.js';
import { lightUpstream, testClient, testReceipts } from './helpers.js';
import { eventually, initialized, RAW_SERVER, rawHarness } from './raw-harness.js';

const CALLS = 40;

/**
 * The attack: a client sends notifications/cancelled for each tools/call at a
 * different moment, racing the server's answer (before it is forwarded, as
 * it is forwarded, after the server answered). Whichever wins, the call has
 * exactly one receipt, and the receipt agrees with what the client saw: an
 * answer means `result`, no answer means `cancelled`; a cancelled call the
 * server received is never recorded as refused.
 */
describe('notifications/cancelled racing the result', () => {
  it('attack: 40 calls each cancelled at a different moment: one receipt per call, saying which won', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const answered = new Set<number>();
      for (let n = 0; n < CALLS; n++) {
        const id = `race-${n}`;
        const call = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { n } } };
        const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } };
        void raw.request(call).then(
          () => answered.add(n),
          () => undefined,
        );
        // Spread the cancels over the call's life: in the same tick, after some turns, after a few ms.
        if (n % 4 === 1) await new Promise((resolve) => setImmediate(resolve));
        if (n % 4 === 2) await new Promise((resolve) => setTimeout(resolve, n % 8));
        if (n % 4 === 3)
          await raw.request({
            ...call,
            id: `${id}-after`,
            params: { name: 'echo', arguments: { after: n } },
          });
        raw.send(cancel);
        // A second cancel for the same id, and one for an id never sent: nothing more is recorded.
        if (n % 5 === 0) raw.send(cancel);
        if (n % 7 === 0) raw.send({ ...cancel, params: { requestId: `never-${n}` } });
      }
      // Everything sent before it has been read by the bridge once this is answered.
      await raw.request({
        jsonrpc: '2.0',
        id: 'last',
        method: 'tools/call',
        params: { name: 'echo', arguments: { last: true } },
      });
      const digests = new Map<string, number>();
      for (let n = 0; n < CALLS; n++) digests.set(jcsDigest({ n }), n);
      const raced = () => raw.receipts.records.filter((record) => digests.has(record.argumentsDigest));
      await eventually(() => raced().length >= CALLS, 'a receipt for every raced call');
      // Let any late (second) receipt land before counting.
      await raw.request({ jsonrpc: '2.0', id: 'settle', method: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, 200));

      const byCall = new Map<number, ToolCallRecord[]>();
      for (const record of raced()) {
        const n = digests.get(record.argumentsDigest) as number;
        byCall.set(n, [...(byCall.get(n) ?? []), record]);
      }
      const serverGot = new Set(
        raw
          .serverGot()
          .filter((m) => m.method === 'tools/call')
          .map((m) => (m.params as { arguments?: { n?: number } }).arguments?.n),
      );
      for (let n = 0; n < CALLS; n++) {
        const records = byCall.get(n) ?? [];
        expect(records, `call ${n}`).toHaveLength(1);
        const record = records[0] as ToolCallRecord;
        expect(record.outcome, `call ${n}`).toBe(answered.has(n) ? 'result' : 'cancelled');
        // The signed receipt says which, and for a cancel whether the server had the call (and so
        // may have run it): never "did not run" for a call the server received.
        const predicate = toolCallPredicate(record);
        expect(predicate.outcome, `call ${n}`).toBe(record.outcome);
        if (record.outcome === 'cancelled') {
          expect(predicate.forwarded, `call ${n}`).toBe(serverGot.has(n));
          expect(predicate.resultDigest, `call ${n}`).toBeUndefined();
        } else {
          expect(serverGot.has(n), `call ${n}`).toBe(true);
        }
      }
      // Both sides of the race happened, so the test saw a race, not one order.
      const outcomes = [...byCall.values()].flat().map((record) => record.outcome);
      expect(outcomes).toContain('cancelled');
      expect(outcomes).toContain('result');
      const cancelled = [...byCall.values()].flat().filter((record) => record.outcome === 'cancelled');
      expect(cancelled.some((record) => record.forwarded === true)).toBe(true);
    } finally {
      await raw.close();
    }
  });
});

describe('notifications/cancelled over --http', () => {
  it('attack: an SDK client aborts 12 calls at different moments: one receipt per call', async () => {
    const receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const client = testClient();
    try {
      await client.connect(new StreamableHTTPClientTransport(http.url));
      const calls = Array.from({ length: 12 }, async (_, n) => {
        const abort = new AbortController();
        const call = client.callTool({ name: 'echo', arguments: { n } }, undefined, { signal: abort.signal });
        if (n % 3 === 1) await new Promise((resolve) => setImmediate(resolve));
        if (n % 3 === 2) await new Promise((resolve) => setTimeout(resolve, n));
        abort.abort();
        return call.then(
          () => 'result',
          () => 'aborted',
        );
      });
      await Promise.all(calls);
      await client.callTool({ name: 'echo', arguments: { last: true } });
      const digests = new Set(Array.from({ length: 12 }, (_, n) => jcsDigest({ n })));
      await eventually(
        () => receipts.records.filter((record) => digests.has(record.argumentsDigest)).length >= 12,
        'a receipt for every call',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const raced = receipts.records.filter((record) => digests.has(record.argumentsDigest));
      expect(raced).toHaveLength(12);
      expect(new Set(raced.map((record) => record.argumentsDigest)).size).toBe(12);
      for (const record of raced) expect(['result', 'cancelled']).toContain(record.outcome);
    } finally {
      await client.close();
      await http.close();
      await receipts.close();
    }
  });
});
