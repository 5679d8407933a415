import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../service/use-gateway.js';

/**
 * GET /v1/receipts/stream holds one of 8 slots per key while its stream is
 * open. HEAD is answered by the same route (Hono serves HEAD from GET): its
 * answer ends at the headers, so it must take no slot.
 */
describe('receipt stream slots', () => {
  const gw = useGateway();

  it('attack: 9 HEADs kept on one connection take no stream slot; the 9th GET of a key is a typed 503 STREAMS_BUSY with Retry-After', async () => {
    const key = await gw.keyWith(['audit:read']);
    const socket = connect(Number(gw.url.port), gw.url.hostname);
    let heads = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      heads += chunk;
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    const head = `HEAD /v1/receipts/stream HTTP/1.1\r\nHost: ${gw.url.host}\r\nAuthorization: Bearer ${key}\r\n\r\n`;
    socket.write(head.repeat(9));
    for (let waited = 0; (heads.match(/^HTTP\/1\.1 /gm) ?? []).length < 9 && waited < 50; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(heads.match(/^HTTP\/1\.1 \d+/gm)).toEqual(Array(9).fill('HTTP/1.1 200'));
    expect(heads.toLowerCase()).toContain('content-type: text/event-stream');

    // The connection of the HEADs is still open: every slot of the key is free.
    const aborts: AbortController[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const abort = new AbortController();
        aborts.push(abort);
        const response = await fetch(new URL('/v1/receipts/stream', gw.url), {
          headers: { authorization: `Bearer ${key}` },
          signal: abort.signal,
        });
        expect(response.status, `stream ${i + 1}`).toBe(200);
      }
      const ninth = await fetch(new URL('/v1/receipts/stream', gw.url), {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(ninth.status).toBe(503);
      expect(ninth.headers.get('retry-after')).toBe('5');
      expect(await ninth.json()).toEqual({
        error: { code: 'STREAMS_BUSY', message: 'this key has 8 receipt streams open; close one' },
      });
    } finally {
      for (const abort of aborts) abort.abort();
      socket.destroy();
    }
  });
});
