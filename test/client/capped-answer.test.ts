import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OacpClient } from '../../src/client/client.js';
import { OacpApiError } from '../../src/client/errors.js';

/**
 * A gateway (or whatever answers at its address) can stream without end: the client reads an
 * answer only up to `maxResponseBytes` and then stops with CLIENT_RESPONSE_TOO_LARGE, instead of
 * holding all of it. A real HTTP server streams; nothing is mocked.
 */
let server: Server;
let base: string;
const chunk = Buffer.alloc(64 * 1024, 0x20);

beforeAll(async () => {
  server = createServer((request, response) => {
    const status = request.url === '/v1/agents' ? 500 : 200;
    response.writeHead(status, { 'content-type': 'application/json' });
    if (request.url === '/v1/log/checkpoint') {
      response.end('origin\n1\nAAAA\n');
      return;
    }
    // An opening brace, then spaces forever (valid JSON so far, never finished).
    response.write('{');
    const pump = () => {
      while (response.write(chunk)) if (response.destroyed) return;
      response.once('drain', pump);
    };
    response.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

describe('OacpClient: answers read to a bound', () => {
  it('attack: an endless success answer or error answer stops at maxResponseBytes with CLIENT_RESPONSE_TOO_LARGE', async () => {
    const client = new OacpClient({ baseUrl: base, maxResponseBytes: 1024 * 1024 });
    for (const call of [() => client.health(), () => client.listAgents()]) {
      const error = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OacpApiError);
      expect((error as OacpApiError).code).toBe('CLIENT_RESPONSE_TOO_LARGE');
      expect((error as OacpApiError).message).toMatch(
        /^GET \/(healthz|v1\/agents) answered more than 1048576 bytes \(the client's maxResponseBytes\)$/,
      );
    }
  });

  it('a short answer under the bound is read whole', async () => {
    const client = new OacpClient({ baseUrl: base, maxResponseBytes: 1024 });
    expect(await client.checkpoint()).toBe('origin\n1\nAAAA\n');
  });

  it('refuses a bound that is not a positive whole number, naming the option', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => new OacpClient({ baseUrl: base, maxResponseBytes: bad })).toThrow(
        'maxResponseBytes must be a whole number of bytes above 0',
      );
  });
});
