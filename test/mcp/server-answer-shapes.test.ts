import { describe, expect, it } from 'vitest';
import { eventually, rpc, withInitialized } from './raw-harness.js';

// A server answering a call in a shape JSON-RPC / MCP do not allow, where the call it answers is
// still known from the answer: its caller is answered at once (an error, the receipt saying
// why), not left waiting for the request deadline (--request-timeout, 5 minutes by default).
// The harness's request() gives up after 10 s, the bridge's own deadline is 10 minutes here.

describe('server answers in a shape the bridge refuses, for a call it can still name', () => {
  it('attack: the server answers a tools/call inside a JSON-RPC batch array: the caller gets an error now, and the receipt records it as an error', async () => {
    await withInitialized(
      async (raw) => {
        const answer = await raw.request(rpc(1, 'tools/call', { name: 'batch', arguments: {} }));
        expect(answer.error).toMatchObject({
          code: -32603,
          message: expect.stringContaining('JSON-RPC batch'),
        });
        await eventually(() => raw.receipts.records.some((r) => r.tool === 'batch'), 'the receipt');
        expect(raw.receipts.records.filter((r) => r.tool === 'batch')).toEqual([
          expect.objectContaining({ outcome: 'error' }),
        ]);
        expect(raw.events).toContainEqual(
          expect.objectContaining({ type: 'invalid-message', from: 'server' }),
        );
        // The session goes on.
        const echoed = await raw.request(rpc(2, 'tools/call', { name: 'echo', arguments: { a: 1 } }));
        expect(echoed.result).toBeDefined();
      },
      { requestTimeoutMs: 600_000 },
    );
  });

  it('attack: the server answers under the id as a string ("7" for 7): never taken as the answer, the caller gets an error now with its receipt', async () => {
    await withInitialized(
      async (raw) => {
        const answer = await raw.request(rpc(3, 'tools/call', { name: 'string-id', arguments: {} }));
        expect(answer.error).toMatchObject({
          code: -32603,
          message: expect.stringContaining('type included'),
        });
        expect(JSON.stringify(answer)).not.toContain('string id');
        await eventually(() => raw.receipts.records.some((r) => r.tool === 'string-id'), 'the receipt');
        expect(raw.receipts.records.filter((r) => r.tool === 'string-id')).toEqual([
          expect.objectContaining({ outcome: 'error' }),
        ]);
      },
      { requestTimeoutMs: 600_000 },
    );
  });
});
