import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { forward } from '../../src/gateway/http/forward.js';

/** A loopback port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('forwarding to the owner', () => {
  it('an owner that does not answer is a 503 (CLUSTER_UNAVAILABLE), never a 500, and its words name no internal URL', async () => {
    const owner = new URL(`http://127.0.0.1:${await deadPort()}/`);
    const request = new Request('http://gw.test/a2a/alice/.well-known/agent-card.json');
    const refused = await forward(request, new Uint8Array(), owner, fetch).catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 'CLUSTER_UNAVAILABLE',
      message: 'the node that runs the agent did not answer; retry',
    });
    expect((refused as Error).message).not.toContain(String(owner.port));
  });

  it('attack: a path of two leading slashes stays a path on the owner, never another host given the credentials', async () => {
    const owner = new URL('http://127.0.0.1:7001/');
    const asked: string[] = [];
    const capture = (async (target: Parameters<typeof fetch>[0]) => {
      asked.push(String(target));
      return new Response('ok');
    }) as typeof fetch;
    const request = new Request('http://gw.test//evil.test/v1/agents/alice/runs', {
      method: 'POST',
      headers: { authorization: 'Bearer secret-key' },
    });
    await forward(request, new TextEncoder().encode('{}'), owner, capture);
    expect(asked).toEqual(['http://127.0.0.1:7001//evil.test/v1/agents/alice/runs']);
  });
});
