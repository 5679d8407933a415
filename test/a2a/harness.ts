import type { AddressInfo } from 'node:net';
import type { Client } from '@a2a-js/sdk/client';
import { serve } from '@hono/node-server';
import type { A2aSecurityEvent } from '../../src/a2a/agent.js';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { gatewayDirectory, gatewayExecutor } from '../../src/a2a/mount.js';
import { type A2aServer, type A2aServerOptions, createA2aServer } from '../../src/a2a/server.js';
import { type TrustEdge, TrustGraph } from '../../src/a2a/trust-graph.js';
import { OacpClient } from '../../src/client/index.js';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { Logger } from '../../src/gateway/observability/logger.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { InMemoryNonceStore } from '../../src/identity/nonce-store.js';
import { freshHome } from '../gateway/service/node-home.js';
import { a2aClientAt } from './signed-message.js';

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

/** The headers of a raw JSON-RPC POST to an agent that declares the OACP extension. */
export const A2A_POST_HEADERS = {
  'content-type': 'application/json',
  'A2A-Version': '1.0',
  'A2A-Extensions': OACP_A2A_EXTENSION,
} as const;

/** The fields of a receipt's predicate the A2A tests read. */
export interface Predicate {
  agent: { did?: string };
  tool: { name: string };
  argumentsDigest: string;
  outcome: string;
  policy: { effect: string; reason: string; policyId?: string };
}

export interface TestNode {
  readonly gateway: Gateway;
  readonly url: string;
  readonly admin: OacpClient;
  readonly events: A2aSecurityEvent[];
  /** Every line the gateway logged at warn or above, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Creates and starts an agent; returns its did and signer. */
  agent(name: string, code?: string): Promise<{ did: string; signer: Signer }>;
  /** The predicate of the receipt at `index` in the node's log. */
  predicateAt(index: number): Promise<Predicate>;
  close(): Promise<void>;
}

/**
 * A real gateway (keys, log, store, standard-tier runtime, and the A2A server
 * its composition root mounts) on a fresh home, listening on a loopback port.
 * The A2A refusals it logs are collected as security events.
 */
export async function startNode(
  trust: readonly TrustEdge[] = [],
  a2a: Record<string, unknown> = {},
): Promise<TestNode> {
  const home = await freshHome('oacp-a2a-');
  const events: A2aSecurityEvent[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger((line) => {
    const record = JSON.parse(line) as { msg?: string } & A2aSecurityEvent;
    lines.push(record as unknown as Record<string, unknown>);
    if (record.msg === 'a2a request refused') {
      const { type, agent, sender, reason } = record;
      events.push({ type, agent, reason, ...(sender === undefined ? {} : { sender }) });
    }
  }, 'warn');
  const gateway = await createGateway({
    home: home.home,
    env: home.env,
    config: parseGatewayConfig(
      { attestation: { level: 'standard' }, a2a: { trust: trust.map((edge) => ({ ...edge })), ...a2a } },
      home.home,
    ),
    listen: '127.0.0.1:0',
    logger,
  });
  const base = (await gateway.listen()).origin;
  const key = await gateway.apiKeys.create({ scopes: ['admin'], label: 'a2a test' });
  const admin = new OacpClient({ baseUrl: base, apiKey: key.key });
  return {
    gateway,
    url: base,
    admin,
    events,
    lines,
    async agent(name, code = ECHO_AGENT) {
      const created = await admin.createAgent({ name, manifest: { ...MANIFEST, name }, code });
      await admin.startAgent(name);
      const signer = await gateway.services.agents.signer(created.id);
      if (signer === undefined) throw new Error(`no signer for ${name}`);
      return { did: created.id, signer };
    },
    async predicateAt(index) {
      const envelope = JSON.parse(Buffer.from(await gateway.node.log.entry(index)).toString('utf8')) as {
        payload: string;
      };
      return (
        JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicate: Predicate }
      ).predicate;
    },
    async close() {
      await gateway.close();
      home.remove();
    },
  };
}

/** A node whose agent `alice` (created and started) trusts one fresh sender, and the SDK client for alice. */
export interface SenderNode {
  readonly node: TestNode;
  readonly sender: Signer;
  readonly alice: { did: string; signer: Signer };
  readonly client: Client;
}

export async function startNodeWithSender(): Promise<SenderNode> {
  const sender = keySigner(generateEd25519().privateKey);
  const node = await startNode([{ from: didKeyFromPublicKey(sender.publicKey), to: 'alice' }]);
  const alice = await node.agent('alice');
  return { node, sender, alice, client: await a2aClientAt(node.url, 'alice') };
}

export interface EmbeddedServer {
  readonly a2a: A2aServer;
  /** `http://127.0.0.1:PORT`, where it listens. */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * The node's agents behind an embedder's own createA2aServer (no trust edges, its own nonce
 * store; `options` adds or replaces the rest), on a loopback port of its own.
 */
export async function serveEmbedded(
  node: TestNode,
  options: Partial<A2aServerOptions> = {},
): Promise<EmbeddedServer> {
  const { gateway } = node;
  const parts = {
    agents: gateway.services.agents,
    runtime: gateway.services.runtime,
    log: gateway.node.log,
    origin: gateway.node.origin,
    airlockKeys: [gateway.node.keys.publicKeys().airlock.raw],
    trust: [],
    nonces: new InMemoryNonceStore(),
  };
  const a2a = createA2aServer({
    agents: gatewayDirectory(parts),
    executor: gatewayExecutor(parts),
    trust: new TrustGraph([]),
    nonces: parts.nonces,
    node: {
      logOrigin: parts.origin,
      logVerifierKey: gateway.node.log.verifierKey,
      airlockKeys: parts.airlockKeys,
    },
    ...options,
  });
  const server = serve({ fetch: a2a.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    a2a,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
