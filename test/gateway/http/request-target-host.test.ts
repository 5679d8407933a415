import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothListeners, gatewayAndBridge } from './listeners.js';
import { rawExchange } from './raw-socket.js';

/**
 * RFC 9112 §3.2.2: a request-target in absolute-form names the request's host, in place of the
 * Host header. Both listeners checked the Host header alone, so `POST http://evil.example/mcp`
 * with a true Host line beside it got past the loopback guard (DNS-rebinding defence).
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

describe('the request-target names the host (absolute-form, CONNECT, other methods) on both listeners', () => {
  let both: BothListeners;
  beforeAll(async () => {
    both = await gatewayAndBridge();
  }, 60_000);
  afterAll(async () => {
    await both?.close();
  });

  it('attack: GET http://evil.example/healthz with a true Host header: the gateway answers 403 HOST_REFUSED naming the request-target, and serves on', async () => {
    const host = both.gw.url.host;
    const answer = split(
      await rawExchange(
        both.gw.url,
        `GET http://evil.example/healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(answer.status).toMatch(/^HTTP\/1\.1 403 /);
    const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('HOST_REFUSED');
    expect(body.error.message).toContain('request-target');
    expect(body.error.message).not.toMatch(/\n\s+at /);
    // RFC 9112 §3.2.2: a server MUST accept absolute-form; naming this listener, it is served.
    const own = split(
      await rawExchange(
        both.gw.url,
        `GET http://${host}/healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(own.status).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('attack: POST http://evil.example/mcp (initialize) with a true Host header: the bridge answers 403, no session made; naming the listener it is served', async () => {
    const host = both.bridge.url.host;
    const post = (target: string) =>
      `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json, text/event-stream\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${INITIALIZE.length}\r\nConnection: close\r\n\r\n${INITIALIZE}`;
    const refused = split(await rawExchange(both.bridge.url, post('http://evil.example/mcp')));
    expect(refused.status).toMatch(/^HTTP\/1\.1 403 /);
    expect(refused.body).toContain('request-target');
    expect(refused.head).not.toContain('mcp-session-id');
    const served = split(await rawExchange(both.bridge.url, post(`http://${host}/mcp`)));
    expect(served.status).toMatch(/^HTTP\/1\.1 200 /);
    expect(served.head).toContain('mcp-session-id');
  });

  it('attack: a foreign Host announcing a 100 MB body, then nothing: the bridge answers 403 and closes at once (it kept the connection, draining the body for up to 60 s)', async () => {
    const answer = split(
      await rawExchange(
        both.bridge.url,
        `POST /mcp HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`,
      ),
    );
    expect(answer.status).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer.head).toContain('connection: close');
  });

  it('attack: a user part or another scheme in the target is refused, not interpreted', async () => {
    const host = both.bridge.url.host;
    for (const target of [`http://evil.example@${host}/mcp`, `ftp://${host}/mcp`]) {
      const answer = split(
        await rawExchange(
          both.bridge.url,
          `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`,
        ),
      );
      expect(answer.status, target).toMatch(/^HTTP\/1\.1 403 /);
      expect(answer.body, target).toContain('request-target');
    }
  });

  it('attack: POST //evil.example/mcp (and /\\evil.example/mcp) with a true Host header: not origin-form, so 403 on both listeners, no session (the bridge read it as a URL naming evil.example, made a session at its /mcp)', async () => {
    // The gateway's HTTP adapter answers 400 to a backslash before any handler: only the slashes reach its guard.
    for (const [url, method, targets] of [
      [both.bridge.url, 'POST', ['//evil.example/mcp', '///evil.example/mcp', '/\\evil.example/mcp']],
      [both.gw.url, 'GET', ['//evil.example/healthz', '///evil.example/healthz']],
    ] as const) {
      const host = url.host;
      for (const target of targets) {
        const answer = split(
          await rawExchange(
            url,
            `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json, text/event-stream\r\n` +
              `Content-Type: application/json\r\nContent-Length: ${INITIALIZE.length}\r\nConnection: close\r\n\r\n${INITIALIZE}`,
            // The refusal closes the connection, which ends the exchange: the bound is for a loaded host only.
            { timeoutMs: 15_000 },
          ),
        );
        expect(answer.status, `${url.href} ${target}`).toMatch(/^HTTP\/1\.1 403 /);
        expect(answer.body, `${url.href} ${target}`).toContain('request-target');
        expect(answer.head, `${url.href} ${target}`).not.toContain('mcp-session-id');
      }
    }
  }, 120_000);

  it('attack: CONNECT on either listener is a 405 that says why (it closed the socket without a word), and each serves on', async () => {
    for (const url of [both.gw.url, both.bridge.url]) {
      const answer = split(
        await rawExchange(url, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`),
      );
      expect(answer.status, url.href).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer.head, url.href).toContain('allow: get, post, delete');
      expect(answer.body, url.href).toContain('not a proxy');
    }
    expect((await fetch(new URL('/healthz', both.gw.url))).status).toBe(200);
    const initialize = await fetch(both.bridge.url, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      body: INITIALIZE,
    });
    expect(initialize.status).toBe(200);
  });

  it('attack: TRACE, OPTIONS and PUT at /mcp are 405 with Allow (TRACE was a 400 about a missing session id)', async () => {
    const host = both.bridge.url.host;
    for (const method of ['TRACE', 'OPTIONS', 'PUT']) {
      const answer = split(
        await rawExchange(
          both.bridge.url,
          `${method} /mcp HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        ),
      );
      expect(answer.status, method).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer.head, method).toContain('allow: get, post, delete');
      expect(answer.body, method).toContain('GET, POST and DELETE');
    }
  });
});
