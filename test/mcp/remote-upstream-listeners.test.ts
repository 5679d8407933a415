import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perRequestSignals } from '../../src/mcp/request-signals.js';
import { remoteServerIdentity } from '../../src/mcp/server-identity.js';
import { remoteTransport, urlUpstream } from '../../src/mcp/upstream.js';

/** A remote Streamable HTTP MCP server at its smallest: JSON answers, one session. */
function remoteServer(): Promise<{ server: Server; url: URL }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/hang') return;
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: number; method: string };
      if (message.id === undefined) return void res.writeHead(202).end();
      const result =
        message.method === 'initialize'
          ? { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'remote', version: '1' } }
          : {};
      res
        .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'one' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: new URL(`http://127.0.0.1:${port}/mcp`) });
    }),
  );
}

/**
 * Issue 10 (a session that cannot be brought down): the SDK's Streamable HTTP client passes its
 * transport's one AbortSignal to every fetch, and undici's fetch adds an abort listener to it per
 * request, dropped only when the request is collected, after raising the signal's limit to 1,500:
 * a bridge in front of a remote server printed MaxListenersExceededWarning after about 1,500
 * calls. The bridge's remote upstream (urlUpstream) gives each request its own signal.
 */
describe('a bridge to a remote MCP server over Streamable HTTP', () => {
  let remote: { server: Server; url: URL };

  beforeAll(async () => {
    remote = await remoteServer();
  });

  afterAll(async () => {
    await new Promise((resolve) => remote?.server.close(resolve));
  });

  const post = (id: number, method: string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: {} }),
  });

  it('attack (the leak as the SDK makes it): 300 fetches sharing one live signal leave no listener per request on it, and aborting it still aborts a request in flight', async () => {
    const shared = new AbortController();
    const fetchOnce = perRequestSignals();
    // Kept alive, as a busy process keeps requests until a GC: listeners must not depend on GC.
    const answers: Response[] = [];
    for (let id = 1; id <= 300; id++) {
      const answer = await fetchOnce(remote.url, { ...post(id, 'ping'), signal: shared.signal });
      await answer.text();
      answers.push(answer);
    }
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(getEventListeners(shared.signal, 'abort').length).toBeLessThanOrEqual(1);
    // The bare fetch, for contrast: one listener per request while the requests live.
    const bare = new AbortController();
    for (let id = 1; id <= 20; id++) {
      const answer = await fetch(remote.url, { ...post(id, 'ping'), signal: bare.signal });
      answers.push(answer);
      await answer.text();
    }
    expect(getEventListeners(bare.signal, 'abort').length).toBeGreaterThan(10);
    // A request whose answer never comes is aborted with the shared signal.
    const hung = fetchOnce(new URL('/hang', remote.url), { method: 'GET', signal: shared.signal });
    setTimeout(() => shared.abort(new Error('transport closed')), 50);
    await expect(hung).rejects.toThrow();
  });

  it("urlUpstream: 2,000 requests over the SDK transport leave the transport's signal with one listener, and no warning", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    // The SDK transport the bridge's remote upstream is built on (urlUpstream uses this one).
    const sdk = await remoteTransport(remote.url);
    const connected = await urlUpstream({
      identity: remoteServerIdentity('remote', remote.url),
      url: remote.url,
    }).connect();
    try {
      for (const transport of [sdk, connected.transport]) {
        const pending = new Map<number, () => void>();
        transport.onmessage = (message: unknown) => pending.get((message as { id: number }).id)?.();
        await transport.start();
        const ask = (id: number, method: string, params: Record<string, unknown> = {}) =>
          new Promise<void>((resolve) => {
            pending.set(id, () => {
              pending.delete(id);
              resolve();
            });
            void transport.send({ jsonrpc: '2.0', id, method, params });
          });
        await ask(0, 'initialize', {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'test', version: '1' },
        });
        for (let id = 1; id <= (transport === sdk ? 200 : 2_000); id++) await ask(id, 'ping');
      }
      const signal = (sdk as unknown as { _abortController: AbortController })._abortController.signal;
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
      expect(warnings.filter((warning) => warning.includes('MaxListeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await sdk.close();
      await connected.stop();
    }
  }, 60_000);
});
