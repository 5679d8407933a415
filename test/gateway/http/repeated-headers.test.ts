import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { useGateway } from '../service/use-gateway.js';
import { rawExchange } from './raw-socket.js';

/**
 * Node keeps the first of two `Host` (or `Authorization`, `Content-Type`) lines and drops the
 * other without a word: the loopback host guard passed on the first while the second named a
 * foreign host (what a proxy in front may route or log by), and RFC 9112 §3.2 says such a
 * request MUST be a 400. Each listener now refuses a repeated one before anything reads it.
 */
function requests(url: URL, path: string, credentials: string): Record<string, string> {
  return {
    'Host twice, the second foreign': `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nHost: evil.example\r\n\r\n`,
    'Authorization twice': `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${credentials}\r\nAuthorization: Bearer other\r\n\r\n`,
    'Content-Type twice': `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${credentials}\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}`,
  };
}

describe('a header that must come once, repeated', () => {
  describe('the gateway', () => {
    const gw = useGateway();

    it('attack: Host, Authorization or Content-Type twice: 400 BAD_REQUEST naming the header, before the app; once is served', async () => {
      for (const [name, request] of Object.entries(requests(gw.url, '/v1/agents', gw.adminKey))) {
        const answer = await rawExchange(gw.url, request);
        expect(answer.split('\r\n')[0], name).toMatch(/^HTTP\/1\.1 400 /);
        const body = JSON.parse(answer.slice(answer.indexOf('{'), answer.lastIndexOf('}') + 1)) as {
          error: { code: string; message: string };
        };
        expect(body.error.code, name).toBe('BAD_REQUEST');
        expect(body.error.message, name).toMatch(/header is given more than once/);
        expect(answer, name).not.toContain(gw.adminKey);
      }
      const once = await rawExchange(
        gw.url,
        `GET /v1/agents HTTP/1.1\r\nHost: ${gw.url.host}\r\nAuthorization: Bearer ${gw.adminKey}\r\nConnection: close\r\n\r\n`,
      );
      expect(once.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 200 /);
    });
  });

  describe('the MCP bridge (--http)', () => {
    let receipts: TestReceipts;
    let http: HttpBridge;
    beforeAll(async () => {
      receipts = await testReceipts();
      const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
      http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none' });
    });
    afterAll(async () => {
      await http?.close();
      await receipts?.close();
    });

    it('attack: the same at /mcp: 400 naming the header, no session made', async () => {
      for (const [name, request] of Object.entries(requests(http.url, '/mcp', 'token'))) {
        const answer = await rawExchange(http.url, request);
        expect(answer.split('\r\n')[0], name).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer, name).toMatch(/header is given more than once/);
      }
      expect(receipts.records).toEqual([]);
    });
  });
});
