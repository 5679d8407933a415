import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothListeners, gatewayAndBridge } from './listeners.js';
import { rawExchange } from './raw-socket.js';

/**
 * An outsider on a raw socket against both of OACP's HTTP listeners (the gateway, the MCP
 * bridge's `--http`): what each answers to a request that is not quite what a client sends.
 */
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attack', version: '1' } },
});

function split(answer: string): { status: string; head: string; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  return {
    status: answer.split('\r\n')[0] ?? '',
    head: answer.slice(0, end).toLowerCase(),
    body: answer.slice(end + 4),
  };
}

/** A request of `method` to `target` on `url`'s listener, its Host `host`; the initialize body on a POST. */
function request(method: string, target: string, host: string, extra = ''): string {
  const body = method === 'POST' ? INITIALIZE : '';
  return (
    `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json, text/event-stream\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}Connection: close\r\n\r\n${body}`
  );
}

describe('an outsider on a raw socket, against both listeners', () => {
  let both: BothListeners;
  beforeAll(async () => {
    both = await gatewayAndBridge();
  }, 60_000);
  afterAll(async () => {
    await both?.close();
  });

  it('a Host naming another loopback port (a port forward: ssh -L 9000:localhost:<port>, kubectl port-forward) is served on both listeners; a foreign name on the same port is 403 (the DNS-rebinding defence is by name)', async () => {
    for (const [url, method, path] of [
      [both.bridge.url, 'POST', '/mcp'],
      [both.gw.url, 'GET', '/healthz'],
    ] as const) {
      for (const host of ['127.0.0.1:1', 'localhost:9000', 'localhost']) {
        const answer = split(await rawExchange(url, request(method, path, host), { timeoutMs: 15_000 }));
        expect(answer.status, `${url.href} ${host}`).toMatch(/^HTTP\/1\.1 200 /);
      }
      const rebound = split(
        await rawExchange(url, request(method, path, `rebind.example:${url.port}`), { timeoutMs: 15_000 }),
      );
      expect(rebound.status, url.href).toMatch(/^HTTP\/1\.1 403 /);
      expect(rebound.head, url.href).not.toContain('mcp-session-id');
    }
  }, 120_000);

  it('attack: an absolute-form target with an upper-case scheme (HTTP://) is the request its lower-case form is, on both listeners (RFC 3986 §3.1): served naming the listener, 403 naming another host', async () => {
    for (const [url, method, path] of [
      [both.bridge.url, 'POST', '/mcp'],
      [both.gw.url, 'GET', '/healthz'],
    ] as const) {
      for (const scheme of ['HTTP', 'Http']) {
        const own = split(
          await rawExchange(url, request(method, `${scheme}://${url.host}${path}`, url.host), {
            timeoutMs: 15_000,
          }),
        );
        expect(own.status, `${url.href} ${scheme}`).toMatch(/^HTTP\/1\.1 200 /);
        const foreign = split(
          await rawExchange(url, request(method, `${scheme}://evil.example${path}`, url.host), {
            timeoutMs: 15_000,
          }),
        );
        expect(foreign.status, `${url.href} ${scheme}`).toMatch(/^HTTP\/1\.1 403 /);
        expect(foreign.body, `${url.href} ${scheme}`).toContain('request-target');
      }
    }
  }, 120_000);

  it('attack: a bridge POST declaring Content-Length 5000000 (over the 4 MiB limit), its body never sent: 413 at once and closed, not held for the request timeout', async () => {
    const url = both.bridge.url;
    const answer = split(
      await rawExchange(
        url,
        `POST /mcp HTTP/1.1\r\nHost: ${url.host}\r\nAccept: application/json, text/event-stream\r\n` +
          `Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n`,
        // Bounded for a loaded host, far under the 60 s request timeout it waited for.
        { timeoutMs: 30_000 },
      ),
    );
    expect(answer.status).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.head).toContain('connection: close');
    expect(answer.body).toContain('4194304');
    expect(answer.head).not.toContain('mcp-session-id');
  }, 60_000);

  it('attack: a chunked bridge POST that crosses the 4 MiB limit and goes on: 413 at the crossing and closed, its rest never awaited', async () => {
    const url = both.bridge.url;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let sent = 0;
    const answer = split(
      await rawExchange(
        url,
        `POST /mcp HTTP/1.1\r\nHost: ${url.host}\r\nAccept: application/json, text/event-stream\r\n` +
          `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        {
          timeoutMs: 30_000,
          onConnect: (socket) => {
            // One chunk past the limit, then the body stays open: no terminating chunk is ever sent.
            const more = () => {
              while (sent <= 4 * 1024 * 1024 && !socket.destroyed) {
                sent += chunk.length;
                if (
                  !socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`, 'latin1')
                )
                  return void socket.once('drain', more);
              }
            };
            more();
          },
        },
      ),
    );
    expect(answer.status).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.head).toContain('connection: close');
  }, 60_000);

  it('attack: TRACE, OPTIONS and PUT at a gateway path that has routes are 405 with Allow naming its methods (RFC 9110 §15.5.6), not 404; a path of no route stays 404', async () => {
    const url = both.gw.url;
    for (const method of ['TRACE', 'OPTIONS', 'PUT']) {
      const answer = split(
        await rawExchange(
          url,
          `${method} /healthz HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`,
          {
            timeoutMs: 15_000,
          },
        ),
      );
      expect(answer.status, method).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer.head, method).toMatch(/\r\nallow: get, head\r\n/);
      expect(JSON.parse(answer.body), method).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
    }
    // A CORS preflight gets no Access-Control-* answer: the console is same-origin, and no other page may call.
    const preflight = split(
      await rawExchange(
        url,
        `OPTIONS /v1/agents HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: http://${url.host}\r\n` +
          `Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n`,
        { timeoutMs: 15_000 },
      ),
    );
    expect(preflight.status).toMatch(/^HTTP\/1\.1 405 /);
    expect(preflight.head).toMatch(/\r\nallow: get, head, post\r\n/);
    expect(preflight.head).not.toContain('access-control-');
    const nowhere = split(
      await rawExchange(
        url,
        `TRACE /no/such/path HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`,
        {
          timeoutMs: 15_000,
        },
      ),
    );
    expect(nowhere.status).toMatch(/^HTTP\/1\.1 404 /);
  }, 60_000);

  it('attack: a valid request pipelined behind a refused one (foreign Host, foreign or unreadable target) is never served: each listener answers the refusal alone and closes', async () => {
    for (const [url, path] of [
      [both.bridge.url, '/mcp'],
      [both.gw.url, '/healthz'],
    ] as const) {
      const valid = `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`;
      for (const refused of [
        `GET ${path} HTTP/1.1\r\nHost: evil.example\r\n\r\n`,
        `GET http://evil.example${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`,
        `GET ftp://${url.host}${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`,
      ]) {
        const answer = await rawExchange(url, refused + valid, { timeoutMs: 15_000 });
        const first = refused.split('\r\n')[0];
        expect(answer, `${url.href} ${first}`).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(answer.match(/HTTP\/1\.1 \d{3} /g), `${url.href} ${first}`).toHaveLength(1);
        expect(answer.toLowerCase(), `${url.href} ${first}`).toContain('connection: close');
      }
    }
  }, 60_000);

  it('HTTP/1.0 without Host is refused by both listeners with a 4xx that closes (no URL can be built from it)', async () => {
    for (const [url, path] of [
      [both.bridge.url, '/mcp'],
      [both.gw.url, '/healthz'],
    ] as const) {
      const answer = await rawExchange(url, `GET ${path} HTTP/1.0\r\n\r\n`, { timeoutMs: 15_000 });
      expect(answer, url.href).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(answer.toLowerCase(), url.href).toContain('connection: close');
    }
  }, 60_000);
});
