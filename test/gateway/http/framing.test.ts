import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../../src/mcp/http.js';
import { lightUpstream, type TestReceipts, testReceipts } from '../../mcp/helpers.js';
import { RAW_SERVER } from '../../mcp/raw-harness.js';
import { useGateway } from '../service/use-gateway.js';
import { rawExchange } from './raw-socket.js';

/** Writes `request` as raw bytes and returns the status line of the first answer (or '' if none). */
/** The status line of the answer to `request` written raw. */
async function rawStatusLine(url: URL, request: string): Promise<string> {
  return (await rawExchange(url, request)).split('\r\n')[0] ?? '';
}

const header = (host: string) => `Host: ${host}\r\n`;
/** Requests whose framing is broken or whose headers are too many: each must be a 400 or a 431. */
function attacks(url: URL, path: string): Record<string, { request: string; status: RegExp }> {
  const host = header(url.host);
  const many = (count: number) => Array.from({ length: count }, (_, i) => `x-${i}: a\r\n`).join('');
  return {
    'two different Content-Length headers': {
      request: `POST ${path} HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
      status: /^HTTP\/1\.1 400 /,
    },
    'Content-Length twice, equal': {
      request: `POST ${path} HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
      status: /^HTTP\/1\.1 400 /,
    },
    'chunked body with a Content-Length that disagrees (request smuggling)': {
      request: `POST ${path} HTTP/1.1\r\n${host}Content-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      status: /^HTTP\/1\.1 400 /,
    },
    'a chunk size that is not hex': {
      request: `POST ${path} HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
      status: /^HTTP\/1\.1 400 /,
    },
    'Transfer-Encoding that is not chunked last': {
      request: `POST ${path} HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      status: /^HTTP\/1\.1 400 /,
    },
    '3,000 headers (over the header size limit)': {
      request: `GET ${path} HTTP/1.1\r\n${host}${many(3_000)}\r\n`,
      status: /^HTTP\/1\.1 431 /,
    },
    '1,500 short headers (under the size limit, over the count limit)': {
      request: `GET ${path} HTTP/1.1\r\n${host}${Array.from({ length: 1_500 }, () => 'a: b\r\n').join('')}\r\n`,
      status: /^HTTP\/1\.1 431 /,
    },
  };
}

async function expectRefusedAndAlive(url: URL, path: string, stillServes: () => Promise<void>) {
  for (const [name, attack] of Object.entries(attacks(url, path))) {
    expect(await rawStatusLine(url, attack.request), name).toMatch(attack.status);
    await stillServes();
  }
}

describe('malformed HTTP framing and header floods on both listeners', () => {
  describe('the gateway', () => {
    const gw = useGateway();

    it('attack: duplicate or conflicting Content-Length, chunked vs Content-Length, header floods: 400/431, the gateway keeps serving', async () => {
      await expectRefusedAndAlive(gw.url, '/v1/agents', async () => {
        expect((await fetch(new URL('/healthz', gw.url))).status).toBe(200);
      });
      // 300 fields: a typed error naming the limit, before authentication reads anything.
      const headers = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-${i}`, 'a']));
      const flood = await fetch(new URL('/v1/agents', gw.url), { headers });
      expect(flood.status).toBe(431);
      expect(await flood.json()).toEqual({
        error: { code: 'HEADERS_TOO_LARGE', message: 'more than 200 header fields' },
      });
      // 150 fields is within the limit: answered by the app (401, no credentials).
      const some = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-${i}`, 'a']));
      expect((await fetch(new URL('/v1/agents', gw.url), { headers: some })).status).toBe(401);
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

    it('attack: the same requests at /mcp: 400/431, the bridge keeps serving', async () => {
      await expectRefusedAndAlive(http.url, '/mcp', async () => {
        // A request with no session is answered (400 naming the missing header), so the process lives.
        expect((await fetch(http.url)).status).toBe(400);
      });
      const headers = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-${i}`, 'a']));
      const flood = await fetch(http.url, { method: 'POST', headers, body: '{}' });
      expect(flood.status).toBe(431);
      expect(await flood.text()).toContain('more than 200 header fields');
    });
  });
});
