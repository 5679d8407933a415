import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OacpClient } from '../../../src/client/index.js';
import type { Signer } from '../../../src/core/ed25519.js';
import { parseGatewayConfig } from '../../../src/gateway/config/load.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../../src/gateway/gateway.js';
import { silentLogger } from '../../../src/gateway/observability/logger.js';
import { defineTool, type NativeTool } from '../../../src/gateway/runtime/define-tool.js';
import { freshHome } from './node-home.js';

export const MANIFEST = {
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'worker',
  capabilities: { tools: { allow: ['echo', 'add', 'slow', 'github.*'] } },
  quotas: { memory_mb: 16 },
};

export function testTools(): NativeTool[] {
  return [
    defineTool({
      name: 'echo',
      description: 'returns its text',
      input: z.strictObject({ text: z.string().max(10_000) }),
      attributes: { data: 'public' },
      run: ({ text }) => ({ echoed: text }),
    }),
    defineTool({
      name: 'add',
      input: z.strictObject({ a: z.number(), b: z.number() }),
      run: ({ a, b }) => ({ sum: a + b }),
    }),
    defineTool({
      name: 'github.whoami',
      description: 'shows which credentials were injected (names only)',
      input: z.strictObject({}),
      run: async (_args, context) => {
        const secrets = await context.credentials();
        return { names: [...secrets.names], headerCount: Object.keys(secrets.headers()).length };
      },
    }),
    defineTool({
      name: 'patient_record',
      input: z.strictObject({ id: z.string() }),
      attributes: { data: 'patient_data', access: 'read', location: 'internal' },
      run: ({ id }) => ({ id, status: 'stable' }),
    }),
    defineTool({
      name: 'export_external',
      input: z.strictObject({ id: z.string() }),
      attributes: { data: 'patient_data', access: 'write', location: 'external' },
      run: () => ({ sent: true }),
    }),
  ];
}

export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: URL;
  readonly home: string;
  readonly adminKey: string;
  readonly client: OacpClient;
  clientAs(signer: Signer): OacpClient;
  keyWith(scopes: string[]): Promise<string>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<Omit<GatewayOptions, 'config' | 'home'>> {
  readonly config?: Record<string, unknown>;
  /** Cedar text written to a file and listed under `policies`. */
  readonly policy?: string;
}

/** A gateway on a fresh home, listening on a free loopback port, with an admin API key. */
export async function startGateway(options: StartOptions = {}): Promise<TestGateway> {
  const home = await freshHome();
  const policies: string[] = [];
  if (options.policy !== undefined) {
    const path = join(home.home, 'policy.cedar');
    writeFileSync(path, options.policy);
    policies.push(path);
  }
  const config = parseGatewayConfig(
    {
      sandbox: { capabilities: { tools: { allow: ['*'] }, network: { allowlist: ['127.0.0.1'] } } },
      attestation: { level: 'standard' },
      policies,
      ...options.config,
    },
    home.home,
  );
  const { config: _c, policy: _p, ...rest } = options;
  const gateway = await createGateway({
    home: home.home,
    env: home.env,
    config,
    listen: '127.0.0.1:0',
    tools: testTools(),
    logger: silentLogger(),
    restart: { initialDelayMs: 10, maxDelayMs: 50, maxRestarts: 3 },
    ...rest,
  });
  const url = await gateway.listen();
  const admin = await gateway.apiKeys.create({ scopes: ['admin'], label: 'test admin' });
  return {
    gateway,
    url,
    home: home.home,
    adminKey: admin.key,
    client: new OacpClient({ baseUrl: url, apiKey: admin.key }),
    clientAs: (signer) => new OacpClient({ baseUrl: url, agentSigner: signer }),
    keyWith: async (scopes) => (await gateway.apiKeys.create({ scopes })).key,
    close: async () => {
      await gateway.close();
      home.remove();
    },
  };
}

/** A raw request, for checks the typed client would not let us make. */
export async function raw(
  url: URL,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const response = await fetch(new URL(path, url), init);
  // A live stream (server-sent events) never ends: its status and headers are the answer.
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, json: undefined, text: '', headers: response.headers };
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}
