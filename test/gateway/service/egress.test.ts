import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST, startGateway, type TestGateway } from './harness.js';

describe('agent fetch through the egress gate', () => {
  let gw: TestGateway;
  let server: Server;
  let port = 0;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits += 1;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.headers.host}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    // A name under the test's control that resolves to loopback: DNS rebinding, simulated.
    gw = await startGateway({
      egress: { resolver: async (host) => (host === 'rebind.example' ? ['127.0.0.1'] : []) },
      config: {
        sandbox: {
          capabilities: { tools: { allow: ['*'] }, network: { allowlist: ['127.0.0.1', 'rebind.example'] } },
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function agentWithNetwork(name: string, allowlist: string[]) {
    const agent = await gw.client.createAgent({
      name,
      manifest: { ...MANIFEST, capabilities: { ...MANIFEST.capabilities, network: { allowlist } } },
      code: 'function main(input) { return fetch(input.url).then((r) => r.text()); }',
    });
    await gw.client.startAgent(agent.id);
    return agent;
  }

  it('lets an agent reach an allowlisted address and counts the request', async () => {
    const agent = await agentWithNetwork('fetcher', ['127.0.0.1']);
    const run = await gw.client.runAgent(agent.id, { input: { url: `http://127.0.0.1:${port}/x` } });
    expect(run.value).toBe(`hello 127.0.0.1:${port}`);
    expect(run.usage.egressRequests).toBe(1);
    const metrics = await gw.client.metrics();
    expect(metrics).toContain('oacp_quota_consumed{resource="network_requests",agent="fetcher"} 1');
  });

  it('refuses a host outside the allowlist, and an allowlisted name that resolves to a loopback address', async () => {
    const agent = await agentWithNetwork('fenced', ['127.0.0.1', 'rebind.example']);
    const before = hits;
    await expect(
      gw.client.runAgent(agent.id, { input: { url: `http://10.255.255.1:${port}/` } }),
    ).rejects.toMatchObject({ status: 422, message: expect.stringContaining('denied') });
    await expect(
      gw.client.runAgent(agent.id, { input: { url: `http://rebind.example:${port}/` } }),
    ).rejects.toMatchObject({ status: 422, message: expect.stringContaining('never reaches') });
    expect(hits).toBe(before);
  });

  it('gives an agent without network grants no fetch at all', async () => {
    const agent = await gw.client.createAgent({ name: 'offline', manifest: MANIFEST });
    await gw.client.startAgent(agent.id);
    expect((await gw.client.runAgent(agent.id, { code: 'typeof fetch' })).value).toBe('undefined');
  });
});
