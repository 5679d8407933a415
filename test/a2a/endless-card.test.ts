import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { callA2aAgent, fetchAgentCard, MAX_REPLY_BYTES } from '../../src/a2a/client.js';
import { startPlainServer } from './plain-server.js';

/** An agent whose card never ends: 64 KiB chunks for as long as the client reads. */
function endlessAgent(): Promise<{ server: Server; url: string; closed: Promise<number> }> {
  let resolveClosed: (bytes: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => {
    resolveClosed = resolve;
  });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"name":"');
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => resolveClosed(sent));
    pump();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, closed });
    }),
  );
}

describe('A2A client against an agent that streams without end', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  it('attack: an endless agent card is refused past 1 MiB and the connection is dropped (it read 10 GB in 60 s)', async () => {
    const agent = await endlessAgent();
    servers.push(agent.server);
    await expect(fetchAgentCard(agent.url)).rejects.toMatchObject({
      code: 'A2A_CARD_INVALID',
      message: `${agent.url}/.well-known/agent-card.json answered more than 1 MiB, or its answer broke off`,
    });
    // The client hung up: the server stopped with a few MiB sent at most (socket buffers), not gigabytes.
    expect(await agent.closed).toBeLessThan(64 * 1024 * 1024);
  });

  it('attack: an agent whose answer to message/send never ends is refused past MAX_REPLY_BYTES, not read until memory runs out', async () => {
    const plain = await startPlainServer();
    let pulled = 0;
    // The card is the real server's; its answer to the message is 64 KiB chunks without end.
    const hostile: typeof fetch = async (input, init) => {
      if (init?.method !== 'POST') return fetch(input, init);
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += chunk.length;
          controller.enqueue(chunk);
        },
      });
      return new Response(endless, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    try {
      await expect(callA2aAgent({ url: plain.url, text: 'hi', fetch: hostile })).rejects.toMatchObject({
        code: 'A2A_SEND_FAILED',
      });
      expect(pulled).toBeGreaterThan(MAX_REPLY_BYTES);
      expect(pulled).toBeLessThan(MAX_REPLY_BYTES + 4 * 1024 * 1024);
    } finally {
      await plain.close();
    }
  }, 60_000);
});
