import { describe, expect, it } from 'vitest';
import { useGateway } from '../service/use-gateway.js';
import { rawExchange } from './raw-socket.js';

describe('a request the gateway cannot build a URL from', () => {
  const gw = useGateway();

  it('attack: HTTP/1.0 without Host, OPTIONS *, a backslash in the path, a broken absolute URL: a typed 400 naming the problem, and the gateway serves on', async () => {
    const host = `Host: ${gw.url.host}\r\n`;
    const cases: Array<[string, string, string]> = [
      ['HTTP/1.0 without a Host header', 'GET /v1/agents HTTP/1.0\r\n\r\n', 'missing host header'],
      ['OPTIONS *', `OPTIONS * HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 'invalid url'],
      [
        'a backslash in the path',
        `GET /v1\\agents HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
        'backslash',
      ],
      [
        'an absolute URL with a broken host',
        `GET http://[x/v1/agents HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
        'absolute url',
      ],
    ];
    for (const [name, request, problem] of cases) {
      const answer = await rawExchange(gw.url, request);
      expect(answer.split('\r\n')[0], name).toMatch(/^HTTP\/1\.1 400 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      expect(body.error.code, name).toBe('BAD_REQUEST');
      expect(body.error.message.toLowerCase(), name).toContain(problem);
      expect(body.error.message, name).not.toMatch(/\n\s+at /);
      expect((await fetch(new URL('/healthz', gw.url))).status, name).toBe(200);
    }
  });
});
