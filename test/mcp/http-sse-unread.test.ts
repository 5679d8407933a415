import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_CLIENT_IN_FLIGHT } from '../../src/mcp/client-ids.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { rawExchange } from '../gateway/http/raw-socket.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const LIMIT = 64 * 1024;
const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

type Answer = {
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
};

/**
 * Issue 10 on the legacy HTTP+SSE transport (`GET /sse`, `POST /messages`): a body that cannot be
 * taken whole (a number no double can hold, a body over the limit) is refused and recorded by its
 * session as on stdio and Streamable HTTP, not parsed by the MCP SDK (which forwarded 1e400 as
 * null and cut at its own 4 MiB with no receipt). The POST is answered 202; the refusal, with its
 * receipt, comes on the SSE stream like every answer of this transport.
 */
describe('legacy HTTP+SSE: a POST body refused before it could be parsed whole is recorded by its session', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;
  let dir: string;
  let serverLog: string;
  let endpoint: URL;
  let stream: AbortController;
  const answers = new Map<string, (answer: Answer) => void>();
  const seen: Answer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-sse-unread-'));
    serverLog = join(dir, 'server.jsonl');
    receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
      receipts,
    });
    http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none', maxBodyBytes: LIMIT });
    stream = new AbortController();
    const opened = await fetch(http.sseUrl, { signal: stream.signal });
    expect(opened.status).toBe(200);
    const reader = (opened.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let endpointSeen: (url: URL) => void = () => undefined;
    const endpointKnown = new Promise<URL>((resolve) => {
      endpointSeen = resolve;
    });
    void (async () => {
      let buffered = '';
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const kind = /^event: (.*)$/m.exec(event)?.[1];
          const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
          if (kind === 'endpoint') endpointSeen(new URL(data, http.sseUrl));
          if (kind !== 'message') continue;
          const answer = JSON.parse(data) as Answer;
          seen.push(answer);
          answers.get(String(answer.id))?.(answer);
        }
      }
    })();
    endpoint = await endpointKnown;
    const initialized = waitFor('init');
    expect((await post(JSON.stringify(INITIALIZE))).status).toBe(202);
    await initialized;
    expect((await post('{"jsonrpc":"2.0","method":"notifications/initialized"}')).status).toBe(202);
  });

  afterAll(async () => {
    stream?.abort();
    await http?.close();
    await receipts?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const waitFor = (id: string) =>
    new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer for ${id} on the SSE stream`)), 10_000);
      answers.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
    });

  // node:http, not fetch: a body cut off at the limit is answered before it is all sent.
  // `chunked`: no length declared, so the bridge finds the size as it reads.
  const post = (body: string, contentType = 'application/json', chunked = false) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { 'content-type': contentType, ...(chunked ? { 'transfer-encoding': 'chunked' } : {}) };
      const req = request(endpoint, { method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (piece: string) => {
          text += piece;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  const expectRecorded = async (answer: Answer, tool: string, unread: Record<string, unknown>) => {
    const receipt = answer.error?.data?.['oacp/receipt'] as { index: number } | undefined;
    expect(receipt, `${String(answer.id)} has a receipt`).toBeDefined();
    const verified = await receipts.verify(receipt?.index ?? -1);
    expect(verified.ok).toBe(true);
    expect(verified.predicate).toMatchObject({
      tool: { name: tool },
      outcome: 'denied',
      policy: { effect: 'deny', policyId: 'oacp/shape' },
      argumentsDigest: jcsDigest({ 'oacp/unread': unread }),
    });
  };

  const serverCalls = () =>
    existsSync(serverLog)
      ? readFileSync(serverLog, 'utf8')
          .split('\n')
          .filter((l) => l.includes('tools/call'))
      : [];

  it('attack: a tools/call holding 1e400 is refused on the stream with a receipt of the body sent; the server never sees it', async () => {
    const body =
      '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"echo","arguments":{"n":1e400}}}';
    const answered = waitFor('inf');
    expect((await post(body)).status).toBe(202);
    const answer = await answered;
    expect(answer.error?.message).toContain('a number too large for a double');
    await expectRecorded(answer, 'client-request:tools/call', {
      sha256: sha(body),
      bytes: Buffer.byteLength(body),
    });
    expect(serverCalls()).toEqual([]);
  });

  it('attack: a chunked tools/call body over the size limit is cut off unread, refused and recorded with the bytes read, marked cut', async () => {
    const body = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"pad":"${'é'.repeat(LIMIT * 4)}"}}}`;
    const answered = waitFor('big');
    const posted = await post(body, 'application/json', true).catch(() => ({ status: 0, text: '' }));
    const answer = await answered;
    expect([202, 0]).toContain(posted.status);
    expect(answer.error?.message).toContain(`body larger than ${LIMIT} bytes`);
    const read = Buffer.from(body, 'utf8').subarray(0, LIMIT);
    await expectRecorded(answer, 'client-request:tools/call', { sha256: sha(read), bytes: LIMIT, cut: true });
    expect(serverCalls()).toEqual([]);
  });

  it('attack: a POST declaring a length over the limit is 413 before a byte is read, nothing recorded or forwarded', async () => {
    const before = receipts.records.length;
    // Headers only: the refusal must not wait for a body (a client sending it would race the close).
    const answer = await rawExchange(
      endpoint,
      `POST ${endpoint.pathname}${endpoint.search} HTTP/1.1\r\nHost: ${endpoint.host}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
      { timeoutMs: 30_000 },
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain(`body larger than ${LIMIT} bytes`);
    expect(receipts.records.slice(before)).toEqual([]);
    expect(serverCalls()).toEqual([]);
  });

  it('a well-formed call still reaches the server and is answered on the stream', async () => {
    const answered = waitFor('ok');
    const body = {
      jsonrpc: '2.0',
      id: 'ok',
      method: 'tools/call',
      params: { name: 'echo', arguments: { a: 1 } },
    };
    expect((await post(JSON.stringify(body))).status).toBe(202);
    const answer = await answered;
    expect(answer.error).toBeUndefined();
    expect(serverCalls()).toHaveLength(1);
  });

  it('attack: a batch of calls (this transport takes none) is a 400, each call in it recorded as refused, none forwarded', async () => {
    const before = receipts.records.length;
    const calls = serverCalls().length;
    const answer = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'b1', method: 'tools/call', params: { name: 'echo', arguments: { a: 1 } } },
        { jsonrpc: '2.0', id: 'b2', method: 'tools/call', params: { name: 'echo', arguments: { b: 2 } } },
      ]),
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('takes no batches');
    for (let i = 0; i < 100 && receipts.records.length < before + 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(receipts.records.slice(before)).toMatchObject([
      { tool: 'echo', outcome: 'denied' },
      { tool: 'echo', outcome: 'denied' },
    ]);
    expect(serverCalls()).toHaveLength(calls);
  });

  it('a body that is not JSON is answered 400 and nothing is sent on', async () => {
    const before = seen.length;
    const answer = await post('{"jsonrpc":');
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('Parse error');
    expect(seen.length).toBe(before);
  });

  it('a body sent as text/plain gets the 400 the SDK gives any such body: nothing in it recorded or forwarded, batch or unparsable', async () => {
    const before = receipts.records.length;
    const calls = serverCalls().length;
    const batch = JSON.stringify([
      { jsonrpc: '2.0', id: 't1', method: 'tools/call', params: { name: 'echo', arguments: { a: 1 } } },
    ]);
    const huge =
      '{"jsonrpc":"2.0","id":"t2","method":"tools/call","params":{"name":"echo","arguments":{"n":1e400}}}';
    const single = JSON.stringify({
      jsonrpc: '2.0',
      id: 't3',
      method: 'tools/call',
      params: { name: 'echo', arguments: { a: 1 } },
    });
    for (const body of [batch, huge, single]) {
      const answer = await post(body, 'text/plain');
      expect(answer.status).toBe(400);
      expect(answer.text.toLowerCase()).toContain('content-type');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receipts.records.length).toBe(before);
    expect(serverCalls()).toHaveLength(calls);
    expect(seen.filter((answer) => ['t1', 't2', 't3'].includes(String(answer.id)))).toEqual([]);
  });

  // Last: it leaves the session full.
  it(`attack: ${MAX_CLIENT_IN_FLIGHT.requests} calls the server never answers, then one more: that POST is 503 with Retry-After, its call recorded as refused, never forwarded`, async () => {
    const calls = serverCalls().length;
    for (let i = 0; i < MAX_CLIENT_IN_FLIGHT.requests; i++) {
      const sent = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: `held-${i}`,
          method: 'tools/call',
          params: { name: 'echo', arguments: { i, _reply: 'none' } },
        }),
      );
      expect(sent.status).toBe(202);
    }
    // A 202 is the POST taken, not the call forwarded: on a loaded host the server may still be reading
    // them. The one more comes once all are held there, so what follows it is its own doing.
    await expect
      .poll(() => serverCalls().length - calls)
      .toBeGreaterThanOrEqual(MAX_CLIENT_IN_FLIGHT.requests);
    const before = receipts.records.length;
    const refused = await new Promise<{ status: number; retryAfter: unknown; text: string }>(
      (resolve, reject) => {
        const req = request(
          endpoint,
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (piece: string) => {
              text += piece;
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text }),
            );
          },
        );
        req.on('error', reject);
        req.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 'one-more',
            method: 'tools/call',
            params: { name: 'echo', arguments: { x: 1 } },
          }),
        );
      },
    );
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.text).toContain(`${MAX_CLIENT_IN_FLIGHT.requests} requests or 64 MiB in flight`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const recorded = receipts.records.slice(before);
    expect(recorded.map((record) => [record.tool, record.outcome])).toEqual([['echo', 'denied']]);
    expect(recorded[0]?.decision.reason).toMatch(/^refused: the session has 1024 requests/);
    expect(serverCalls().length - calls).toBe(MAX_CLIENT_IN_FLIGHT.requests);
  }, 60_000);
});
