import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { MCP_SUPPRESSED_REFUSALS } from '../../src/mcp/refusal-receipts.js';
import { frontHarness } from './front-harness.js';
import { eventually, INITIALIZE } from './raw-harness.js';

/**
 * The `--config` front (several servers behind one endpoint) is a client of
 * each server's bridge through the MCP SDK, whose server refuses a tools/call
 * that does not fit its schema and drops one sent as a notification, neither
 * with a receipt. Such calls are taken before the SDK and refused by the
 * pipeline with one receipt each; nothing reaches a server.
 */
describe('the --config front: calls the SDK would refuse unrecorded get their receipt', () => {
  it('attack: array arguments, a call with no name, and a call as a notification: each refused with one receipt', async () => {
    // Over an SDK transport, as the --http front is served (the SDK's own checks come first there).
    const { receipts, send, answerTo, serverCalls, close } = await frontHarness({ over: 'sdk' });
    try {
      await send(INITIALIZE);
      await answerTo('init');
      await send({ jsonrpc: '2.0', method: 'notifications/initialized' });

      await send({
        jsonrpc: '2.0',
        id: 'array',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: [1, 2] },
      });
      expect(await answerTo('array')).toMatchObject({ result: { isError: true } });
      expect(receipts.records.at(-1)).toMatchObject({
        tool: 'echo',
        server: { name: 'raw' },
        outcome: 'denied',
        argumentsDigest: jcsDigest([1, 2]),
      });

      await send({ jsonrpc: '2.0', id: 'nameless', method: 'tools/call', params: { arguments: {} } });
      expect(await answerTo('nameless')).toMatchObject({ result: { isError: true } });
      expect(receipts.records.at(-1)).toMatchObject({ tool: '(no tool name)', outcome: 'denied' });

      await send({
        jsonrpc: '2.0',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: { a: 1 } },
      });
      await eventually(() => receipts.records.length === 3, 'the notification refusal receipt');
      expect(receipts.records.at(-1)).toMatchObject({
        tool: 'raw__echo',
        outcome: 'denied',
        decision: { reason: expect.stringContaining('notification') },
      });

      // A well-formed call still goes through to the server.
      await send({
        jsonrpc: '2.0',
        id: 'fine',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: { ok: true } },
      });
      expect(await answerTo('fine')).toMatchObject({ result: { content: [{ text: '{"ok":true}' }] } });
      expect(serverCalls()).toHaveLength(1);
      expect(receipts.records).toHaveLength(4);
    } finally {
      await close();
    }
  });

  it('attack: over stdio, a tools/call line over the size cap and one holding 1e400 are refused before any server, each with a receipt digesting its bytes', async () => {
    const { receipts, write, answerTo, serverCalls, close } = await frontHarness({ maxLineBytes: 64 * 1024 });
    try {
      write(`${JSON.stringify(INITIALIZE)}\n`);
      await answerTo('init');
      write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
      const huge =
        '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"raw__echo","arguments":{"n":1e400}}}';
      const big = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"raw__echo","arguments":{"pad":"${'x'.repeat(100 * 1024)}"}}}`;
      write(`${huge}\n`);
      write(`${big}\n`);
      const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
      for (const [id, line, limit] of [
        ['inf', huge, 'a number too large for a double'],
        ['big', big, 'the line size limit'],
      ] as const) {
        const answer = await answerTo(id);
        expect(answer.error?.message).toContain(limit);
        const receipt = answer.error?.data?.['oacp/receipt'] as { index: number } | undefined;
        expect(receipt, `${id} has a receipt`).toBeDefined();
        const verified = await receipts.verify(receipt?.index ?? -1);
        expect(verified.ok).toBe(true);
        expect(verified.predicate).toMatchObject({
          tool: { name: 'client-request:tools/call' },
          outcome: 'denied',
          policy: { effect: 'deny', policyId: 'oacp/shape' },
          argumentsDigest: jcsDigest({
            'oacp/unread': { sha256: sha(line), bytes: Buffer.byteLength(line) },
          }),
        });
      }
      expect(receipts.records).toHaveLength(2);
      expect(serverCalls()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('attack: 60 tools/call sent as notifications to the front get at most its refusal receipt limit of receipts, and one summary of the rest', async () => {
    const limit = 5;
    const flood = 60;
    const { receipts, send, answerTo, serverCalls, close } = await frontHarness({
      over: 'sdk',
      refusalReceipts: { perSourcePerMinute: limit, overallPerMinute: 10 * limit },
    });
    let individual = 0;
    try {
      await send(INITIALIZE);
      await answerTo('init');
      await send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      for (let i = 0; i < flood; i++)
        await send({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'raw__echo', arguments: { i } } });
      // A call the front answers comes after the flood: every notification was taken by then.
      await send({
        jsonrpc: '2.0',
        id: 'fine',
        method: 'tools/call',
        params: { name: 'raw__echo', arguments: {} },
      });
      await answerTo('fine');
      const refused = () => receipts.records.filter((record) => record.tool === 'raw__echo');
      await eventually(() => refused().length >= limit, 'the receipts within the limit');
      individual = refused().length;
      expect(individual).toBeLessThanOrEqual(limit + 1);
      expect(serverCalls()).toHaveLength(1);
    } finally {
      await close();
    }
    const summaries = receipts.records.filter((record) => record.tool === MCP_SUPPRESSED_REFUSALS);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ server: { name: 'unknown' }, outcome: 'denied' });
    const count = Number(
      /^(\d+) refused client messages from 1 session /.exec(summaries[0]?.decision.reason ?? '')?.[1],
    );
    expect(individual + count).toBe(flood);
  });
});
