import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_CLIENT_IN_FLIGHT } from '../../src/mcp/client-ids.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/**
 * Over `--http` the bridge cannot stop reading its client (each POST is its own), so a server
 * that does not read its stdin, or answers nothing, had the bridge take every POST and keep what
 * it carried, without bound. A session past its bound now answers `503` with `Retry-After`, its
 * tool calls recorded as refused; what it already took stays bounded.
 */
describe('--http: a session whose server does not keep up', () => {
  /** `front`: the `--config` front over the one server (`raw`), as `oacp mcp run --config --http` serves it. */
  const open = async (env: Record<string, string>, front = false) => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-http-busy-'));
    const serverLog = join(dir, 'server.jsonl');
    const receipts = await testReceipts();
    const single = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog, ...env } }),
      receipts,
      // Each refused call's receipt is what is checked here: the refusal receipt limit
      // (test/mcp/refusal-receipt-flood.test.ts) raised past these floods.
      refusalReceipts: { perSourcePerMinute: 100_000, overallPerMinute: 100_000 },
    });
    const bridge = front ? createAggregateBridge(new Map([['raw', single]]), { receipts }) : single;
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    const started = await fetch(http.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(INITIALIZE),
    });
    expect(started.status).toBe(200);
    const session = started.headers.get('mcp-session-id') ?? '';
    await started.text();
    const post = (body: unknown) =>
      fetch(http.url, {
        method: 'POST',
        headers: { ...HEADERS, 'mcp-session-id': session },
        body: JSON.stringify(body),
      });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const serverGot = () =>
      existsSync(serverLog) ? readFileSync(serverLog, 'utf8').split('\n').filter(Boolean).length : 0;
    /** Bytes the server has read (and logged): cheaper to poll than its lines. */
    const serverRead = () => (existsSync(serverLog) ? statSync(serverLog).size : 0);
    return { receipts, http, post, serverGot, serverRead, dir };
  };
  const close = async (harness: { receipts: TestReceipts; http: HttpBridge; dir: string }) => {
    await harness.http.close();
    await harness.receipts.close();
    rmSync(harness.dir, { recursive: true, force: true });
  };

  it('attack: 40 MB of tools/call to a server that stopped reading its stdin: past 8 MiB waiting for it, POSTs are 503 with Retry-After and each refused call has its receipt', async () => {
    const harness = await open({ RAW_STOP_READING: '1' });
    try {
      const pad = 'p'.repeat(1024 * 1024);
      const answers: Response[] = [];
      const waiting: Promise<unknown>[] = [];
      for (let id = 1; id <= 40; id++) {
        waiting.push(
          harness
            .post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { pad } } })
            .then(
              (res) => answers.push(res),
              () => undefined,
            ),
        );
        // Each POST taken in before the next is sent.
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      await eventually(() => answers.length >= 20, '503 answers', 20_000);
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        const body = (await res.json()) as { error: { message: string } };
        expect(body.error.message).toContain('has not read the last 8 MiB');
      }
      // What the bridge took in for the server: its 8 MiB bound, a pipe's worth, and one call.
      expect(40 - answers.length).toBeLessThanOrEqual(12);
      await eventually(
        () => harness.receipts.records.filter((record) => record.tool === 'echo').length === answers.length,
        'a receipt for each refused call',
      );
      for (const record of harness.receipts.records) {
        expect(record.outcome).toBe('denied');
        expect(record.decision.reason).toMatch(/^refused: the server has not read the last 8 MiB/);
      }
      // Answers and cancellations still pass: they are what frees the session.
      const cancel = await harness.post({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 1 },
      });
      expect(cancel.status).toBe(202);
      void waiting;
    } finally {
      await close(harness);
    }
  }, 60_000);

  it(`attack: batches of 100 calls to a server that answers nothing: at ${MAX_CLIENT_IN_FLIGHT.requests} requests in flight, the calls of a batch are refused with receipts and the next POST is 503`, async () => {
    // The server reads none of them (1100 small calls: a pipe's worth and 50 KiB, far from backlogged).
    const harness = await open({ RAW_STOP_READING: '1' });
    try {
      const batch = (from: number) =>
        Array.from({ length: 100 }, (_, i) => ({
          jsonrpc: '2.0',
          id: from + i,
          method: 'tools/call',
          params: { name: 'echo', arguments: { n: from + i } },
        }));
      const streams: Promise<Response>[] = [];
      for (let from = 0; from < 1100; from += 100) {
        streams.push(harness.post(batch(from)));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The 11th batch crossed the bound: its calls past it were refused, each with its receipt.
      const refused = () =>
        harness.receipts.records.filter(
          (record) =>
            record.tool === 'echo' && /has 1024 requests or 64 MiB in flight/.test(record.decision.reason),
        );
      await eventually(() => refused().length === 1100 - MAX_CLIENT_IN_FLIGHT.requests, 'refused calls');
      expect(refused().every((record) => record.outcome === 'denied')).toBe(true);
      // The calls taken in are still in flight, unreceipted: every receipt so far is a refusal.
      expect(harness.receipts.records.every((record) => record.outcome === 'denied')).toBe(true);
      const next = await harness.post(batch(2000));
      expect(next.status).toBe(503);
      expect(next.headers.get('retry-after')).toBe('1');
      expect(((await next.json()) as { error: { message: string } }).error.message).toContain(
        `has ${MAX_CLIENT_IN_FLIGHT.requests} requests`,
      );
      // The 503's calls: 64 one receipt each, the other 36 in one (malformed-calls.ts).
      await eventually(
        () => refused().length === 1100 - MAX_CLIENT_IN_FLIGHT.requests + 64,
        'receipts of the 503',
      );
      await eventually(
        () => harness.receipts.records.some((record) => record.tool === 'client-request:tools/call'),
        'the receipt of the rest',
      );
      void streams;
    } finally {
      await close(harness);
    }
  }, 60_000);

  // Issue 10: the `--config` front counted requests only, so 64 huge bodies held any amount of memory.
  for (const front of [false, true]) {
    it(`attack: 1 MB calls to a server that reads them and answers none: at 64 MiB in flight, the next POST is 503 and its call receipted as refused (${front ? 'the --config front' : "a server's session"})`, async () => {
      const harness = await open({}, front);
      try {
        const body = (id: number, padBytes: number) => ({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: {
            name: front ? 'raw__echo' : 'echo',
            arguments: { pad: 'p'.repeat(padBytes), _reply: 'none' },
          },
        });
        let sent = 0;
        const call = (id: number, padBytes = 1024 * 1024) => {
          sent += JSON.stringify(body(id, padBytes)).length;
          return harness.post(body(id, padBytes));
        };
        const streams: Promise<unknown>[] = [];
        // Each read by the server before the next is sent (so its stdin never backlogs).
        const before = harness.serverRead();
        for (let id = 1; id <= 63; id++) {
          streams.push(call(id).catch(() => undefined));
          await eventually(() => harness.serverRead() >= before + sent - 4096, `the server read call ${id}`);
        }
        // One more to make exactly 64 MiB of bodies in flight: taken (the bound is reached, not passed).
        const rest = 64 * 1024 * 1024 - sent;
        const last = rest - (JSON.stringify(body(64, rest)).length - rest);
        streams.push(call(64, last).catch(() => undefined));
        await eventually(() => harness.serverRead() >= before + sent - 4096, 'the server read call 64');
        expect(sent).toBe(64 * 1024 * 1024);
        expect(harness.receipts.records).toHaveLength(0);
        const refused = await Promise.race([
          call(65),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000)),
        ]);
        if (refused === undefined) throw new Error('the POST past 64 MiB in flight was taken, not refused');
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('1');
        expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
          'requests or 64 MiB in flight',
        );
        await eventually(
          () => harness.receipts.records.some((record) => /64 MiB in flight/.test(record.decision.reason)),
          'the refused call recorded',
        );
        expect(harness.receipts.records).toHaveLength(1);
        void streams;
      } finally {
        await close(harness);
      }
    }, 60_000);
  }
});
