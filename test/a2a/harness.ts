import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { A2aSecurityEvent } from '../../src/a2a/agent.js';
import { gatewayA2aServer } from '../../src/a2a/mount.js';
import type { TrustEdge } from '../../src/a2a/trust-graph.js';
import { OacpClient } from '../../src/client/index.js';
import type { Signer } from '../../src/core/ed25519.js';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { silentLogger } from '../../src/gateway/observability/logger.js';
import { InMemoryNonceStore } from '../../src/identity/nonce-store.js';
import { freshHome } from '../gateway/service/node-home.js';

/** An agent that echoes what it was given, so tests can see the input the sandbox saw. */
export const ECHO_AGENT = `
function main(input) {
  console.log('got ' + input.text);
  return { echo: input.text, from: input.from, items: input.data.length };
}`;

export const MANIFEST = {
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'a2a-agent',
  capabilities: {},
  quotas: { memory_mb: 16 },
};

export interface TestNode {
  readonly gateway: Gateway;
  readonly url: string;
  readonly admin: OacpClient;
  readonly events: A2aSecurityEvent[];
  /** Creates and starts an agent; returns its did and signer. */
  agent(name: string, code?: string): Promise<{ did: string; signer: Signer }>;
  close(): Promise<void>;
}

/**
 * A real gateway (keys, log, store, standard-tier runtime) on a fresh home,
 * with the A2A server in front of it on one loopback port: /a2a and the root
 * card go to the A2A server, everything else (receipts, agents API) to the
 * gateway's own app, as the composition root wires them.
 */
export async function startNode(trust: readonly TrustEdge[] = []): Promise<TestNode> {
  const home = await freshHome('oacp-a2a-');
  const gateway = await createGateway({
    home: home.home,
    env: home.env,
    config: parseGatewayConfig({ attestation: { level: 'standard' } }, home.home),
    listen: '127.0.0.1:0',
    logger: silentLogger(),
  });
  const events: A2aSecurityEvent[] = [];
  let base: string | undefined;
  const a2a = gatewayA2aServer({
    agents: gateway.services.agents,
    runtime: gateway.services.runtime,
    log: gateway.node.log,
    origin: gateway.node.origin,
    airlockKeys: [gateway.node.keys.publicKeys().airlock.raw],
    trust,
    nonces: new InMemoryNonceStore(),
    publicUrl: () => base,
    onSecurityEvent: (event) => events.push(event),
  });
  const listener = getRequestListener(
    (request) => {
      const path = new URL(request.url).pathname;
      return path.startsWith('/a2a/') || path === '/.well-known/agent-card.json'
        ? a2a.fetch(request)
        : gateway.app.fetch(request);
    },
    { overrideGlobalObjects: false },
  );
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = await gateway.apiKeys.create({ scopes: ['admin'], label: 'a2a test' });
  const admin = new OacpClient({ baseUrl: base, apiKey: key.key });
  return {
    gateway,
    url: base,
    admin,
    events,
    async agent(name, code = ECHO_AGENT) {
      const created = await admin.createAgent({ name, manifest: { ...MANIFEST, name }, code });
      await admin.startAgent(name);
      const signer = await gateway.services.agents.signer(created.id);
      if (signer === undefined) throw new Error(`no signer for ${name}`);
      return { did: created.id, signer };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      home.remove();
    },
  };
}
