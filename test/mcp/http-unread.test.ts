import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { rawExchange } from '../gateway/http/raw-socket.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const LIMIT = 64 * 1024;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

type Refusal = { id: unknown; error: { code: number; message: string; data?: Record<string, unknown> } };

/**
 * Issue 10 over `--http`: a POST body of a live session refused before it could be taken as
 * messages (a number no double can hold; a body over the size limit, cut off unread) gets a
 * receipt naming the bytes sent, as a stdio line does, and its 400 carries the receipt.
 */
describe('--http: a body refused before it could be parsed whole is recorded by its session', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;
  let dir: string;
  let serverLog: string;
  let session: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-http-unread-'));
    serverLog = join(dir, 'server.jsonl');
    receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
      receipts,
    });
    http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none', maxBodyBytes: LIMIT });
    const started = await fetch(http.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(INITIALIZE),
    });
    expect(started.status).toBe(200);
    session = started.headers.get('mcp-session-id') ?? '';
    await started.text();
    const initialized = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    expect(initialized.status).toBe(202);
  });

  afterAll(async () => {
    await http?.close();
    await receipts?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: string, sessionId: string | null = session) =>
    fetch(http.url, {
      method: 'POST',
      headers: { ...HEADERS, ...(sessionId === null ? {} : { 'mcp-session-id': sessionId }) },
      body,
    });

  const expectRecorded = async (refusal: Refusal, tool: string, unread: Record<string, unknown>) => {
    const receipt = refusal.error.data?.['oacp/receipt'] as { index: number } | undefined;
    expect(receipt, `${String(refusal.id)} has a receipt`).toBeDefined();
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

  it('attack: a tools/call holding 1e400 is answered 400 with a receipt digesting the body sent; the server never sees it', async () => {
    const body =
      '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"echo","arguments":{"n":1e400}}}';
    const answer = await post(body);
    expect(answer.status).toBe(400);
    const refusal = (await answer.json()) as Refusal;
    expect(refusal.id).toBe('inf');
    expect(refusal.error.message).toContain('a number too large for a double');
    await expectRecorded(refusal, 'client-request:tools/call', {
      sha256: sha(body),
      bytes: Buffer.byteLength(body),
    });
    expect(serverCalls()).toEqual([]);
  });

  it('attack: a batch holding 1e400 gets one error per message, each recorded and naming the whole body', async () => {
    const body =
      '[{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"n":-1e400}}},{"jsonrpc":"2.0","method":"notifications/progress","params":{}}]';
    const answer = await post(body);
    expect(answer.status).toBe(400);
    const refusals = (await answer.json()) as Refusal[];
    expect(refusals.map((r) => r.id)).toEqual([7, null]);
    const named = { sha256: sha(body), bytes: Buffer.byteLength(body) };
    await expectRecorded(refusals[0] as Refusal, 'client-request:tools/call', named);
    await expectRecorded(refusals[1] as Refusal, 'client-notification:notifications/progress', named);
    expect(serverCalls()).toEqual([]);
  });

  it('attack: a chunked tools/call body over the size limit is cut off unread at the crossing and answered 413 with a receipt of the bytes read, marked cut', async () => {
    const body = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"pad":"${'é'.repeat(LIMIT * 40)}"}}}`;
    // A stream: sent chunked, no length declared, so the bridge finds the size as it reads.
    const answer = await fetch(http.url, {
      method: 'POST',
      headers: { ...HEADERS, 'mcp-session-id': session },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(answer.status).toBe(413);
    const refusal = (await answer.json()) as Refusal;
    expect(refusal.id).toBe('big');
    expect(refusal.error.message).toContain(`body larger than ${LIMIT} bytes`);
    const read = Buffer.from(body, 'utf8').subarray(0, LIMIT);
    await expectRecorded(refusal, 'client-request:tools/call', {
      sha256: sha(read),
      bytes: LIMIT,
      cut: true,
    });
    expect(serverCalls()).toEqual([]);
  });

  it('attack: a tools/call declaring a length over the limit is 413 before a byte is read: nothing of it to name, so answered, not recorded, never forwarded', async () => {
    const before = receipts.records.length;
    // Headers only: the refusal must not wait for a body (a client sending it would race the close).
    const answer = await rawExchange(
      http.url,
      `POST ${http.url.pathname} HTTP/1.1\r\nHost: ${http.url.host}\r\nContent-Type: application/json\r\n` +
        `Accept: application/json, text/event-stream\r\nMcp-Session-Id: ${session}\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
      { timeoutMs: 30_000 },
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain(`body larger than ${LIMIT} bytes`);
    expect(answer).not.toContain('oacp/receipt');
    expect(receipts.records.slice(before)).toEqual([]);
    expect(serverCalls()).toEqual([]);
  });

  it('a body with no method (a response to the server), and one of no session yet, are answered 400 and not recorded', async () => {
    const before = receipts.records.length;
    const nameless = await post('{"jsonrpc":"2.0","id":"x","result":{"n":1e400}}');
    expect(nameless.status).toBe(400);
    expect(((await nameless.json()) as Refusal).error.data).toBeUndefined();
    const sessionless = await post(
      '{"jsonrpc":"2.0","id":"init2","method":"initialize","params":{"n":1e400}}',
      null,
    );
    expect(sessionless.status).toBe(400);
    expect(await sessionless.text()).toContain('a number too large for a double');
    expect(receipts.records.slice(before)).toEqual([]);
  });
});
