import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchAgentCard } from '../../src/a2a/client.js';

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
});
