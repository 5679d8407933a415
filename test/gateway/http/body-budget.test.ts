import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../src/gateway/config/load.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

const KIB = 1024;
/** The gateway's defaults: 1 MiB a body, 16 of them read at once. */
const BODY = 1000 * KIB;
const HELD_AT_ONCE = 16;

/** A POST whose chunked body sends `bytes` and then never ends; resolves with whatever it is answered. */
function dribble(
  url: URL,
  path: string,
  bytes: number,
  headers: Record<string, string> = {},
): { socket: Socket; answer: Promise<string> } {
  const socket = connect(Number(url.port), url.hostname);
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\ncontent-type: application/json\r\n${extra}transfer-encoding: chunked\r\n\r\n`,
  );
  socket.write(`${bytes.toString(16)}\r\n`);
  socket.write(Buffer.alloc(bytes, 0x20));
  socket.write('\r\n');
  let text = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (data: Buffer) => {
      text += data.toString('utf8');
      if (text.includes('\r\n\r\n')) setTimeout(() => resolve(text), 50);
    });
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
  });
  return { socket, answer };
}

const within = (answer: Promise<string>, ms: number) =>
  Promise.race([
    answer,
    new Promise<string>((resolve) => setTimeout(() => resolve(`no answer in ${ms} ms`), ms)),
  ]);

/**
 * Issue 14 (nothing crashes a process, budgets never overrun): the gateway's public A2A mount
 * reads a body before it can check the signature inside it. Each body was bounded (1 MiB), but
 * not how many were read at once: unauthenticated clients that each dribbled a body that never
 * ended were each held until the request timeout. The bridge's `--http` budget class
 * (core/body-bytes.ts) now bounds the gateway's bodies too, every route of the listener under one.
 */
describe('gateway: request bodies read at once are bounded', () => {
  const gw = useGateway({}, 60_000);

  it('attack: 16 unauthenticated A2A posts dribble ~1 MiB each and never end: the 17th, and an admin call, get 503 + Retry-After as their bytes arrive; once the clients go, A2A is answered again', async () => {
    const held = Array.from({ length: HELD_AT_ONCE }, () => dribble(gw.url, '/a2a/anyone', BODY));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const over = dribble(gw.url, '/a2a/anyone', BODY);
    const refused = await within(over.answer, 5_000);
    expect(refused).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused.toLowerCase()).toContain('retry-after: 5');
    expect(refused).toContain('BODIES_BUSY');
    // One budget for the listener: an authenticated route's body is refused the same way.
    const admin = dribble(gw.url, '/v1/agents', BODY, { authorization: `Bearer ${gw.adminKey}` });
    expect(await within(admin.answer, 5_000)).toMatch(/^HTTP\/1\.1 503 /);
    for (const client of [...held, over, admin]) client.socket.destroy();
    // The bytes the gone clients held are given back: a whole body is read and answered. The gateway
    // gives them back once it has seen the closes, later on a loaded host: a 503 until then is retried.
    const post = () =>
      fetch(new URL('/a2a/anyone', gw.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'message/send',
          padding: 'x'.repeat(600 * KIB),
        }),
      });
    let answer = await post();
    for (let tries = 0; tries < 40 && answer.status === 503; tries++) {
      await answer.text();
      await new Promise((resolve) => setTimeout(resolve, 250));
      answer = await post();
    }
    expect(answer.status).toBe(404);
    expect(await answer.text()).toContain('no A2A agent named anyone');
  });
});

/** Issue 14, the leftover: the body limit and the budget of bodies read at once are set in oacp.yaml. */
describe('gateway: the body limits from oacp.yaml', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({
      config: { gateway: { max_body_bytes: 64 * KIB, body_bytes_in_flight: 128 * KIB } },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  it('attack: a body over gateway.max_body_bytes is a 413, and two clients dribbling 60 KiB each fill gateway.body_bytes_in_flight: the third gets 503', async () => {
    const big = await fetch(new URL('/a2a/anyone', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(80 * KIB) }),
    });
    expect(big.status).toBe(413);
    await big.text();
    const held = [dribble(gw.url, '/a2a/anyone', 60 * KIB), dribble(gw.url, '/a2a/anyone', 60 * KIB)];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const over = dribble(gw.url, '/a2a/anyone', 60 * KIB);
    const refused = await within(over.answer, 5_000);
    expect(refused).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused).toContain('BODIES_BUSY');
    for (const client of [...held, over]) client.socket.destroy();
  });

  it('a budget smaller than one body, or a limit of 0, is refused naming the field', () => {
    expect(() =>
      parseGatewayConfig({ gateway: { max_body_bytes: 64 * KIB, body_bytes_in_flight: 1024 } }, '/tmp'),
    ).toThrow(/gateway\.body_bytes_in_flight: must be at least max_body_bytes \(65536\)/);
    expect(() => parseGatewayConfig({ gateway: { max_body_bytes: 0 } }, '/tmp')).toThrow(
      /gateway\.max_body_bytes: expected a positive integer/,
    );
  });
});
