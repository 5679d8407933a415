import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { type HttpBridge, serveHttp } from '../../src/mcp/http.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { RAW_SERVER } from './raw-harness.js';

const KIB = 1024;

/** A POST whose chunked body sends `bytes` and then never ends; resolves with whatever it is answered. */
function dribble(url: URL, bytes: number): { socket: Socket; answer: Promise<string> } {
  const socket = connect(Number(url.port), url.hostname);
  socket.write(
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n`,
  );
  const chunk = Buffer.alloc(bytes, 0x20);
  socket.write(`${bytes.toString(16)}\r\n`);
  socket.write(chunk);
  socket.write('\r\n');
  let text = '';
  socket.on('data', (data: Buffer) => {
    text += data.toString('utf8');
  });
  const answer = new Promise<string>((resolve) => {
    socket.on('data', () => {
      if (text.includes('\r\n\r\n')) resolve(text);
    });
    socket.on('close', () => resolve(text));
  });
  return { socket, answer };
}

/**
 * Issue 14 (nothing crashes a process): each request body is bounded, and so are the bodies the
 * listener holds at once. Clients that each dribble a body that never ends are refused past the
 * bound as their bytes arrive, instead of each being held up to requestTimeout.
 */
describe('--http: request bodies held at once are bounded', () => {
  let receipts: TestReceipts;
  let http: HttpBridge;

  beforeAll(async () => {
    receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER]),
      receipts,
      policy: new PolicyEngine(loadPolicies('@id("all") permit(principal, action, resource);')),
    });
    http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: 'none',
      maxBodyBytes: 512 * KIB,
      maxBodyBytesInFlight: 1024 * KIB,
    });
  });

  afterAll(async () => {
    await http?.close();
    await receipts?.close();
  });

  it('attack: three clients each dribble 400 KiB of a body that never ends: the third gets 503 at once; once the others go, requests are served', async () => {
    const first = dribble(http.url, 400 * KIB);
    const second = dribble(http.url, 400 * KIB);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = dribble(http.url, 400 * KIB);
    const answered = await Promise.race([
      third.answer,
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 5 s'), 5_000)),
    ]);
    expect(answered).toMatch(/^HTTP\/1\.1 503 /);
    expect(answered).toContain('retry-after: 5');
    first.socket.destroy();
    second.socket.destroy();
    third.socket.destroy();
    // The bytes the gone clients held are given back: a whole request is read and answered. The bridge
    // gives them back once it has seen the closes, later on a loaded host: a 503 until then is retried.
    const post = () =>
      fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', padding: 'x'.repeat(300 * KIB) }),
      });
    let answer = await post();
    for (let tries = 0; tries < 40 && answer.status === 503; tries++) {
      await answer.text();
      await new Promise((resolve) => setTimeout(resolve, 250));
      answer = await post();
    }
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('a new session must start with initialize');
  });
});
