import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { useGateway } from '../service/use-gateway.js';
import { rawExchange } from './raw-socket.js';

/**
 * Sends the head of a request announcing `Expect: 100-continue` and holds its body back,
 * as curl and the official SDKs' HTTP stacks do: the body is sent only after a 100, and
 * what the server answered before it is collected. Resolves with every byte received.
 */
function expectContinue(url: URL, head: string, body: string): Promise<string> {
  let sent = false;
  return rawExchange(url, head, {
    onData: (answer, socket) => {
      if (!sent && answer.startsWith('HTTP/1.1 100 ') && answer.includes('\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
    },
  });
}

const statuses = (answer: string) =>
  [...answer.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map(([, status]) => status);

describe('Expect: 100-continue is answered 100 only when the body will be read', () => {
  describe('the gateway', () => {
    const gw = useGateway();

    const head = (path: string, length: number, extra = '', host = gw.url.host) =>
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n${extra}\r\n`;

    it('attack: no credentials, a declared 2 GiB body, a foreign Host: the refusal comes alone, no 100, the connection closed', async () => {
      const refusals: Array<[string, string, string]> = [
        ['no credentials', head('/v1/agents', 2, ''), '401'],
        [
          'a wrong API key',
          head('/v1/agents', 2, 'Authorization: Bearer oacp_0123456789abcdef_nope\r\n'),
          '401',
        ],
        // Its refusal is receipted (docs/receipts.md) without reading the body nobody authenticated.
        [
          'a wrong API key on a tool call',
          head('/v1/tools/echo/call', 2, 'Authorization: Bearer oacp_0123456789abcdef_nope\r\n'),
          '401',
        ],
        [
          '2 GiB declared, with a valid key',
          head('/v1/agents', 2 ** 31, `Authorization: Bearer ${gw.adminKey}\r\n`),
          '413',
        ],
        ['2 GiB declared to a public route (A2A)', head('/a2a/nobody', 2 ** 31), '413'],
        [
          'a foreign Host',
          head('/v1/agents', 2, `Authorization: Bearer ${gw.adminKey}\r\n`, 'evil.example'),
          '403',
        ],
      ];
      for (const [name, request, status] of refusals) {
        const answer = await expectContinue(gw.url, request, '{}');
        expect(statuses(answer), name).toEqual([status]);
        expect(answer.toLowerCase(), name).toContain('\r\nconnection: close\r\n');
        expect(answer, name).toContain('"error":{"code":');
      }
      expect((await fetch(new URL('/healthz', gw.url))).status).toBe(200);
    });

    it('a request whose body is read gets 100, then its answer', async () => {
      const body = JSON.stringify({
        name: 'continued',
        manifest: { apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'continued' },
      });
      const answer = await expectContinue(
        gw.url,
        head(
          '/v1/agents',
          Buffer.byteLength(body),
          `Authorization: Bearer ${gw.adminKey}\r\nConnection: close\r\n`,
        ),
        body,
      );
      expect(statuses(answer)).toEqual(['100', '201']);
      expect(answer).toContain('"name":"continued"');
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

    it('attack: a foreign Host announcing a body: 403 alone, no 100; a true one gets 100, then its answer', async () => {
      const head = (host: string) =>
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
      const refused = await expectContinue(http.url, head('evil.example'), '{}');
      expect(statuses(refused)).toEqual(['403']);
      const read = await expectContinue(http.url, head(http.url.host), '{}');
      expect(statuses(read)[0]).toBe('100');
      expect(statuses(read)).toHaveLength(2);
    });
  });
});
