import type { A2aSecurityEvent } from '../../src/a2a/agent.js';
import type { TrustEdge } from '../../src/a2a/trust-graph.js';
import { OacpClient } from '../../src/client/index.js';
import type { Signer } from '../../src/core/ed25519.js';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { Logger } from '../../src/gateway/observability/logger.js';
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
  /** Every line the gateway logged at warn or above, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Creates and starts an agent; returns its did and signer. */
  agent(name: string, code?: string): Promise<{ did: string; signer: Signer }>;
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
    async close() {
      await gateway.close();
      home.remove();
    },
  };
}
