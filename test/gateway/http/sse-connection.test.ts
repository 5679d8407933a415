import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothListeners, gatewayAndBridge } from './listeners.js';

/** Sends `head` on a raw socket; resolves with the answer's head once it has come, and the socket. */
function answerHead(url: URL, head: string): Promise<{ head: string; closed: Promise<void>; end(): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let buffered = '';
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\r\n\r\n');
      if (end !== -1)
        resolve({ head: buffered.slice(0, end).toLowerCase(), closed, end: () => socket.destroy() });
    });
    socket.write(`${head.replaceAll('\n', '\r\n')}\r\n\r\n`);
  });
}

/**
 * RFC 9112 §9.6: a client's `Connection: close` is answered with the connection
 * closed after the response, and the server says so; an SSE answer that says
 * `Connection: keep-alive` instead tells Node to keep the socket (an explicit
 * header overrides the client's wish). Over HTTP/1.1 persistence is the default:
 * an event stream needs no `keep-alive` header, and it is hop-by-hop.
 */
describe('event streams honour Connection: close', () => {
  let both: BothListeners;
  beforeAll(async () => {
    both = await gatewayAndBridge();
  });
  afterAll(async () => {
    await both?.close();
  });

  it('GET /v1/receipts/stream with Connection: close: the answer says close, never keep-alive', async () => {
    const answer = await answerHead(
      both.gw.url,
      `GET /v1/receipts/stream HTTP/1.1\nHost: ${both.gw.url.host}\nAuthorization: Bearer ${both.gw.adminKey}\nConnection: close`,
    );
    expect(answer.head.split('\r\n')[0]).toBe('http/1.1 200 ok');
    expect(answer.head).toContain('content-type: text/event-stream');
    expect(answer.head).toContain('connection: close');
    expect(answer.head).not.toContain('keep-alive');
    answer.end();
  });

  it('GET /v1/receipts/stream without Connection: kept alive by HTTP/1.1 default, no hop-by-hop keep-alive header needed', async () => {
    const answer = await answerHead(
      both.gw.url,
      `GET /v1/receipts/stream HTTP/1.1\nHost: ${both.gw.url.host}\nAuthorization: Bearer ${both.gw.adminKey}`,
    );
    expect(answer.head).toContain('content-type: text/event-stream');
    expect(answer.head).not.toContain('connection: close');
    answer.end();
  });

  it('the bridge: GET /sse with Connection: close says close, never keep-alive', async () => {
    const answer = await answerHead(
      both.bridge.url,
      `GET /sse HTTP/1.1\nHost: ${both.bridge.url.host}\nConnection: close`,
    );
    expect(answer.head.split('\r\n')[0]).toBe('http/1.1 200 ok');
    expect(answer.head).toContain('connection: close');
    expect(answer.head).not.toContain('keep-alive');
    answer.end();
  });
});
