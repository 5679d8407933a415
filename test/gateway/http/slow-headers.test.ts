import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothListeners, gatewayAndBridge } from './listeners.js';

/**
 * Slowloris: a request line, then one header byte every 500 ms, never the blank
 * line. Resolves with how long the server kept the socket and what it answered.
 */
function dribbleHeaders(url: URL, path: string): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    const done = () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - started, answer });
    };
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `);
      timer = setInterval(() => socket.write('a'), 500);
    });
    // Past the 30 s Node sweeps at by default: a server that waits that long has failed.
    socket.setTimeout(25_000, () => socket.destroy());
  });
}

describe('a client that dribbles its headers (slowloris)', () => {
  let both: BothListeners;
  beforeAll(async () => {
    both = await gatewayAndBridge();
  });
  afterAll(async () => {
    await both?.close();
  });

  it('attack: one header byte every 500 ms: 408 and the socket closed once the 10 s header timeout passes, on the gateway and the bridge', async () => {
    const [gateway, mcp] = await Promise.all([
      dribbleHeaders(both.gw.url, '/healthz'),
      dribbleHeaders(both.bridge.url, '/mcp'),
    ]);
    for (const [name, { ms, answer }] of Object.entries({ gateway, mcp })) {
      expect(answer.split('\r\n')[0], name).toMatch(/^HTTP\/1\.1 408 /);
      expect(ms, name).toBeGreaterThanOrEqual(9_500);
      expect(ms, name).toBeLessThan(13_000);
    }
    expect((await fetch(new URL('/healthz', both.gw.url))).status).toBe(200);
  }, 30_000);
});
