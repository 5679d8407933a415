import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { serveStdio } from '../../src/mcp/stdio.js';
import { type Harness, inProcess, lightUpstream, receiptIndex, testReceipts, text } from './helpers.js';

const QUIRKY = join(import.meta.dirname, 'fixtures', 'quirky-server.mjs');
const FAST_RESTART = { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 5 };

/** A client that writes raw lines, to send what no SDK client would. */
async function rawBridge() {
  const receipts = await testReceipts();
  const events: BridgeEvent[] = [];
  const bridge = createBridge({
    upstream: lightUpstream('quirky', [QUIRKY]),
    receipts,
    onEvent: (event) => events.push(event),
  });
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: unknown[] = [];
  let pending = '';
  output.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part));
  });
  await serveStdio(bridge, input, output);
  const next = async (count: number): Promise<unknown[]> => {
    const deadline = Date.now() + 5000;
    while (lines.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} lines, got ${JSON.stringify(lines)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return lines.splice(0, count);
  };
  return {
    events,
    send: (line: string) => input.write(`${line}\n`),
    next,
    close: async () => {
      await bridge.close();
      await receipts.close();
    },
  };
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});

describe('malformed JSON-RPC', () => {
  it('answers garbage from the client with JSON-RPC errors and keeps serving', async () => {
    const raw = await rawBridge();
    try {
      raw.send('this is not json');
      raw.send('{"jsonrpc":"2.0","id":9,"method":5}');
      raw.send('[1,2,3]');
      raw.send('{"jsonrpc":"1.0","id":"x","method":"ping"}');
      const errors = (await raw.next(4)) as { id: unknown; error: { code: number; message: string } }[];
      expect(errors.map((e) => [e.id, e.error.code])).toEqual([
        [null, -32700],
        [9, -32600],
        [null, -32600],
        ['x', -32600],
      ]);
      raw.send(INITIALIZE);
      const [init] = (await raw.next(1)) as { id: number; result: { serverInfo: { name: string } } }[];
      expect(init?.result.serverInfo.name).toBe('quirky');
      raw.send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
      raw.send(
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}',
      );
      const [call] = (await raw.next(1)) as { id: number; result: { content: unknown } }[];
      expect(call?.id).toBe(2);
      expect(JSON.stringify(call?.result.content)).toContain('still here');
      expect(raw.events.filter((e) => e.type === 'invalid-message' && e.from === 'client')).toHaveLength(4);
    } finally {
      await raw.close();
    }
  });

  it('refuses a tools/call without a tool name, with a receipt', async () => {
    const raw = await rawBridge();
    try {
      raw.send(INITIALIZE);
      await raw.next(1);
      raw.send('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"arguments":{}}}');
      const [reply] = (await raw.next(1)) as { id: number; result: Record<string, unknown> }[];
      expect(reply).toMatchObject({
        id: 3,
        result: { isError: true, _meta: { 'oacp/receipt': { index: 0 } } },
      });
      expect(JSON.stringify(reply?.result)).toContain('non-empty string');
    } finally {
      await raw.close();
    }
  });
});

describe('a misbehaving server', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('survives garbage on the server stdout and still answers the call', async () => {
    harness = await inProcess(lightUpstream('quirky', [QUIRKY]));
    const result = await harness.client.callTool({ name: 'garbage', arguments: {} });
    expect(text(result)).toContain('after garbage');
    const invalid = harness.events.filter((e) => e.type === 'invalid-message' && e.from === 'server');
    expect(invalid.length).toBeGreaterThanOrEqual(2);
  });

  it('restarts a crashed server, fails in-flight calls with receipts, and serves the next call', async () => {
    harness = await inProcess(lightUpstream('quirky', [QUIRKY]), { restart: FAST_RESTART });
    const client = harness.client;
    const before = text(await client.callTool({ name: 'pid', arguments: {} }));
    const [slow, crash] = await Promise.allSettled([
      client.callTool({ name: 'slow', arguments: { ms: 5000 } }),
      client.callTool({ name: 'crash', arguments: {} }),
    ]);
    expect(crash.status === 'rejected' && String(crash.reason)).toMatch(
      /upstream server is gone .*exited with code 3/,
    );
    expect(slow.status === 'rejected' && String(slow.reason)).toMatch(/upstream server is gone/);
    const after = text(await client.callTool({ name: 'pid', arguments: {} }));
    expect(after).not.toBe(before);
    expect(harness.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['upstream-ended', 'upstream-restarted']),
    );
    const outcomes = harness.receipts.records.map((record) => [record.tool, record.outcome]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['slow', 'server-gone'],
        ['crash', 'server-gone'],
      ]),
    );
    expect(outcomes).toHaveLength(4);
    for (const ref of harness.receipts.refs) expect((await harness.receipts.verify(ref.index)).ok).toBe(true);
  });

  it('records a cancelled call and does not answer it', async () => {
    harness = await inProcess(lightUpstream('quirky', [QUIRKY]));
    const controller = new AbortController();
    const slow = harness.client.callTool({ name: 'slow', arguments: { ms: 3000 } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort('changed my mind');
    await expect(slow).rejects.toThrow();
    const deadline = Date.now() + 3000;
    while (harness.receipts.records.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(harness.receipts.records.map((record) => record.outcome)).toEqual(['cancelled']);
    // The session is fine afterwards.
    expect(text(await harness.client.callTool({ name: 'echo', arguments: { text: 'ok' } }))).toContain('ok');
    expect(receiptIndex(await harness.client.callTool({ name: 'echo', arguments: { text: 'ok' } }))).toBe(2);
  });
});
