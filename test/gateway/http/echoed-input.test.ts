import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { raw, startGateway, type TestGateway } from '../service/harness.js';

/**
 * Issues 10 and 14: whatever a caller puts in a path, a name or a body, an
 * answer quotes it redacted and cut, on the gateway, its A2A surface and the
 * MCP bridge alike.
 */
describe('what OACP answers echo of a caller', () => {
  let gw: TestGateway;
  let receipts: TestReceipts;
  let bridge: HttpBridge;
  const providerKey = 'sk-proj-Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5';
  beforeAll(async () => {
    gw = await startGateway();
    receipts = await testReceipts();
    bridge = await serveHttp(createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts }), {
      host: '127.0.0.1',
      port: 0,
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
});
