import { beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST, raw } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

/** Every answer carries its request id, whichever way it was built: a route's JSON, a refusal, a miss. */
describe('x-request-id on every answer', () => {
  let agent: { id: string };
  const gw = useGateway();
  beforeAll(async () => {
    agent = await gw.client.createAgent({ name: 'ids', manifest: MANIFEST });
  });

  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it('a tool call, a refused request, an unknown path and a health check each get their own id, once', async () => {
    const answers = [
      await raw(gw.url, '/v1/tools/echo/call', {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: agent.id, arguments: { text: 'hi' } }),
      }),
      await raw(gw.url, '/v1/tools/echo/call', { method: 'POST', body: '{}' }),
      await raw(gw.url, '/v1/no-such-route', { headers: { authorization: `Bearer ${gw.adminKey}` } }),
      await raw(gw.url, '/healthz'),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 401, 404, 200]);
    const ids = answers.map((answer) => answer.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(uuid);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a tool call is answered whole, over the socket and through app.fetch alike (written straight to the socket)', async () => {
    const init = {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: agent.id, arguments: { text: 'hi' } }),
    };
    const shape = {
      result: { echoed: 'hi' },
      isError: false,
      receipt: {
        index: expect.any(Number),
        envelopeDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
        log: expect.any(String),
      },
    };
    const socket = await raw(gw.url, '/v1/tools/echo/call', init);
    expect(socket.status).toBe(200);
    expect(socket.json).toEqual(shape);
    expect(socket.headers.get('content-type')).toBe('application/json');
    expect(socket.headers.get('content-length')).toBe(String(Buffer.byteLength(socket.text)));
    // Once: a second copy would read "id, id".
    expect(socket.headers.get('x-request-id')).toMatch(uuid);
    expect(socket.headers.get('x-hono-already-sent')).toBeNull();
    const direct = await gw.gateway.app.fetch(
      new Request(new URL('/v1/tools/echo/call', gw.url), {
        ...init,
        headers: { ...init.headers, host: gw.url.host },
      }),
    );
    expect(direct.status).toBe(200);
    expect(await direct.json()).toEqual(shape);
    expect(direct.headers.get('content-type')).toBe('application/json');
    expect(direct.headers.get('x-request-id')).toMatch(uuid);
  });
});
