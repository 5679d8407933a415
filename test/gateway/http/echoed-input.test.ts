import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpApprovalDesk, newDeskToken } from '../../../src/mcp/approval-desk.js';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { raw, startGateway, type TestGateway } from '../service/harness.js';

/** One raw HTTP/1.1 request; resolves with the whole answer once the server closes the socket. */
function rawRequest(url: URL, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no close after: ${answer}`)));
    socket.write(`${head.replaceAll('\n', '\r\n')}\r\n\r\n${body}`);
  });
}

/** The head and the body of a raw answer, its chunked encoding (if any) undone. */
function split(answer: string): { head: string; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  const head = answer.slice(0, end);
  let body = answer.slice(end + 4);
  if (/transfer-encoding: chunked/i.test(head)) {
    let out = '';
    for (;;) {
      const line = body.indexOf('\r\n');
      const size = Number.parseInt(body.slice(0, line), 16);
      if (!(size > 0)) break;
      out += body.slice(line + 2, line + 2 + size);
      body = body.slice(line + 2 + size + 2);
    }
    body = out;
  }
  return { head, body };
}

/**
 * Issues 10 and 14: whatever a caller puts in a path, a name or a body, an
 * answer quotes it redacted and cut, on the gateway, its A2A surface and the
 * MCP bridge alike; and an `Expect` no route can meet gets the listener's own
 * error shape, not Node's bare 417.
 */
describe('what OACP answers echo of a caller', () => {
  let gw: TestGateway;
  let receipts: TestReceipts;
  let bridge: HttpBridge;
  const providerKey = 'sk-proj-Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5';
  const DESK_TOKEN = newDeskToken();
  beforeAll(async () => {
    gw = await startGateway();
    receipts = await testReceipts();
    bridge = await serveHttp(createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts }), {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
      approvals: new HttpApprovalDesk(DESK_TOKEN),
    });
  });
  afterAll(async () => {
    await bridge?.close();
    await receipts?.close();
    await gw?.close();
  });
  const secretOf = (key: string) => key.split('_').slice(2).join('_');

  it('attack: a provider key in a gateway path: 404 NOT_FOUND, the key not echoed', async () => {
    const { status, json, text } = await raw(gw.url, `/v1/${providerKey}`);
    expect(status).toBe(404);
    expect((json as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
  });

  it('attack: an API key, a provider key and a 10,000-char name as the A2A agent of a JSON-RPC message: not echoed, cut', async () => {
    const message = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'message/send', params: {} });
    for (const name of [gw.adminKey, providerKey, 'n'.repeat(10_000)]) {
      const { status, json, text } = await raw(gw.url, `/a2a/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: message,
      });
      expect(status).toBe(404);
      const { error } = json as { error: { code: number; message: string } };
      expect(error.message).toContain('no A2A agent named');
      expect(error.message.length).toBeLessThan(300);
      expect(text).not.toContain(secretOf(gw.adminKey));
      expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
    }
  });

  it('attack: a body that is a key, or a vault value, sent to the bridge as JSON: 400 Parse error, the text not quoted back', async () => {
    // V8's parse error quotes a short text whole, a long one by its first ten characters.
    const vaultValue = 'Zq8Xk3Pw7Mn2Lp';
    for (const body of [gw.adminKey, providerKey, vaultValue]) {
      const answer = await fetch(bridge.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
      const text = await answer.text();
      expect(answer.status).toBe(400);
      expect(text).toContain('Parse error');
      expect(text).not.toContain(secretOf(gw.adminKey));
      expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
      expect(text).not.toContain(vaultValue);
      expect(text).not.toContain(body.slice(0, 10));
    }
  });

  it('attack: a key or a 10,000-char id as the approval id on the gateway: 404 NOT_FOUND, the key not echoed, the id cut, the message whole', async () => {
    for (const id of [providerKey, 'i'.repeat(10_000)]) {
      const { status, json, text } = await raw(gw.url, `/v1/approvals/${id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: '{"approve": true}',
      });
      expect(status).toBe(404);
      const { error } = json as { error: { code: string; message: string } };
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toMatch(/^no pending approval .*\(decided, timed out or cancelled\)$/);
      expect(error.message.length).toBeLessThan(300);
      expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
    }
  });

  it('attack: a key or a 10,000-char id as the approval id on the bridge: 404, the key not echoed, the id cut', async () => {
    for (const id of [gw.adminKey, providerKey, 'i'.repeat(10_000)]) {
      const answer = await fetch(new URL(`/oacp/approvals/${id}`, bridge.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${DESK_TOKEN}` },
        body: '{"approve": true, "by": "me"}',
      });
      const text = await answer.text();
      expect(answer.status).toBe(404);
      expect(text).toContain('no pending approval');
      expect(text.length).toBeLessThan(300);
      expect(text).not.toContain(secretOf(gw.adminKey));
      expect(text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
    }
  });

  it('attack: Expect other than 100-continue: 417 in the gateway error shape (EXPECTATION_FAILED), connection closed, value not echoed', async () => {
    const answer = await rawRequest(
      gw.url,
      `GET /healthz HTTP/1.1\nHost: ${gw.url.host}\nExpect: ${gw.adminKey}`,
    );
    const { head, body } = split(answer);
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 417 Expectation Failed');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(body)).toEqual({
      error: { code: 'EXPECTATION_FAILED', message: 'the Expect header can only be 100-continue' },
    });
    expect(answer).not.toContain(secretOf(gw.adminKey));
    // 100-continue still works: the gateway answers the request.
    const fine = await rawRequest(
      gw.url,
      `GET /healthz HTTP/1.1\nHost: ${gw.url.host}\nExpect: 100-continue\nConnection: close`,
    );
    expect(fine.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });

  it('attack: Expect other than 100-continue on the bridge: 417 with a reason, as its other refusals', async () => {
    const answer = await rawRequest(
      bridge.url,
      `POST /mcp HTTP/1.1\nHost: ${bridge.url.host}\nExpect: 200-ok\nContent-Type: application/json\nContent-Length: 2`,
      '{}',
    );
    const { head, body } = split(answer);
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 417 Expectation Failed');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(body).toBe('the Expect header can only be 100-continue\n');
  });
});
