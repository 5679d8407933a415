import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../../src/gateway/http/listen.js';

const MIB = 1024 * 1024;
const LIMIT = 16 * MIB;
const ANSWER = 8 * MIB;
const CLIENTS = 8;

/** Resolves once `check` holds, polling; fails past `timeoutMs` (generous: a loaded host is slow). */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The gateway's listener (src/gateway/http/listen.ts) bounds what answers unread by their clients
 * hold together, with the bridge's implementation (src/core/unread-answers.ts): an app answering
 * large bodies (a receipt export, a model's answer) to clients that never read held all of them.
 */
describe('the gateway listener: answers held for clients that do not read them are bounded', () => {
  let listening: Listening;
  const cuts: number[] = [];
  beforeAll(async () => {
    const body = Buffer.alloc(ANSWER, 0x61);
    listening = await listen(() => new Response(body, { headers: { 'content-type': 'text/plain' } }), {
      host: '127.0.0.1',
      port: 0,
      maxUnreadAnswerBytes: LIMIT,
      onUnreadCut: (bytes) => cuts.push(bytes),
    });
  });
  afterAll(async () => {
    await listening?.close(0);
  });

  it(`attack: ${CLIENTS} sockets each ask for ${ANSWER / MIB} MiB and never read: at most ${LIMIT / MIB} MiB held, the slowest cut and closed, the rest answered whole`, async () => {
    const closed = new Set<number>();
    const received = Array.from({ length: CLIENTS }, () => 0);
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = connect(Number(listening.url.port), listening.url.hostname);
      socket.on('error', () => undefined);
      socket.on('close', () => closed.add(i));
      socket.on('data', (data: Buffer) => {
        received[i] = (received[i] ?? 0) + data.length;
      });
      socket.write(`GET /big HTTP/1.1\r\nHost: ${listening.url.host}\r\n\r\n`);
      // This client does not read what comes back (until told below).
      socket.pause();
      sockets.push(socket);
    }
    try {
      let most = 0;
      await until(() => {
        most = Math.max(most, listening.heldAnswerBytes());
        return cuts.length > 0;
      }, 'an answer a client does not read cut');
      expect(most).toBeLessThanOrEqual(LIMIT);
      expect(listening.heldAnswerBytes()).toBeLessThanOrEqual(LIMIT);
      for (const socket of sockets) socket.resume();
      await until(() => closed.size >= cuts.length, 'the cut connections closed');
      for (const i of closed) expect(received[i], `client ${i}`).toBeLessThan(ANSWER);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 120_000);
});
