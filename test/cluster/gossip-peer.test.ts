import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGossipPeer } from '../../src/cluster/gossip-peer.js';

/** A hostile peer: endless answers, wrong shapes, bad proof hashes. Each is refused, bounded. */
describe('a hostile gossip peer', () => {
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v1/log/checkpoint') {
        // The attack: an answer without end, to fill the gossiping node's memory.
        const chunk = Buffer.alloc(64 * 1024, 97);
        const pump = () => {
          while (res.write(chunk)) {
            if (res.writableLength > 4 << 20) break;
          }
        };
        res.on('drain', pump);
        pump();
        return;
      }
      if (req.url?.startsWith('/v1/log/consistency')) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ proof: ['not base64 of 32 bytes'] }));
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ origin: 1 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('stops reading an answer past 1 MiB', async () => {
    await expect(httpGossipPeer(base).checkpoint()).rejects.toThrow(/more than 1 MiB/);
  });

  it('refuses a proof hash that is not base64 SHA-256, and a witness view of the wrong shape', async () => {
    await expect(httpGossipPeer(base).consistency(1, 2)).rejects.toThrow(/not base64 SHA-256/);
    await expect(httpGossipPeer(base).witnessView()).rejects.toThrow(/not the expected JSON/);
  });
});
