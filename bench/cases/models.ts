import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { createGateway } from '../../src/gateway/gateway.js';
import { silentLogger } from '../../src/gateway/observability/logger.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { defaultOrigin, writeNodeConfig } from '../../src/node/node-config.js';
import { defaultSigningWorkers } from '../../src/node/signing-pool.js';
import { startStandIn } from '../../test/gateway/models/stand-in-provider.js';
import { type BenchCase, type Figure, figure, latencies, percentile, throughput } from '../harness.js';

const SEQUENTIAL = 400;
const CONCURRENT = 4000;
const IN_FLIGHT = 16;
const BODY = JSON.stringify({
  model: 'gpt-bench',
  messages: [{ role: 'user', content: 'hello' }],
  max_tokens: 16,
});
const STREAM_BODY = JSON.stringify({
  model: 'gpt-bench',
  messages: [{ role: 'user', content: 'hello' }],
  max_tokens: 16,
  stream: true,
});

/** The baseline: a bare pass-through proxy on undici, no checks, no budget, no receipt. */
async function bareProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const pool = new Pool(upstream, { connections: 64 });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const answer = await pool.request({
        method: 'POST',
        path: req.url ?? '/',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      });
      res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? '') });
      for await (const chunk of answer.body) res.write(chunk);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}

/**
 * The load generator: one keep-alive undici pool per target, the same for the
 * direct calls, the bare proxy and the gateway. (Node's global fetch spent
 * about 0.6 ms of CPU per request here, as much as the bare proxy itself, on
 * the same two cores as the thing measured.)
 */
class Client {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;

  constructor(url: string, key?: string) {
    const target = new URL(url);
    this.#pool = new Pool(target.origin, { connections: IN_FLIGHT * 2 });
    this.#path = target.pathname;
    this.#headers = {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    };
  }

  async post(body: string): Promise<void> {
    const response = await this.#pool.request({
      method: 'POST',
      path: this.#path,
      headers: this.#headers,
      body,
    });
    if (response.statusCode !== 200)
      throw new Error(`HTTP ${response.statusCode}: ${await response.body.text()}`);
    await response.body.dump();
  }

  /** Milliseconds until the first body bytes of a streamed answer. */
  async firstToken(): Promise<number> {
    const started = performance.now();
    const response = await this.#pool.request({
      method: 'POST',
      path: this.#path,
      headers: this.#headers,
      body: STREAM_BODY,
    });
    const chunks = response.body[Symbol.asyncIterator]();
    await chunks.next();
    const elapsed = performance.now() - started;
    await chunks.return?.();
    return elapsed;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** A gateway on a fresh home before `provider`, with one agent and its model key; `ack` is `models.receipt_ack`. */
async function benchGateway(
  provider: string,
  ack: 'durable' | 'queued',
): Promise<{ readonly url: URL; readonly key: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-models-'));
  const home = join(dir, 'home');
  const env = { OACP_MASTER_KEY: '42'.repeat(32) };
  const keys = await KeyStore.init(home, { env });
  writeNodeConfig(home, { version: 1, origin: defaultOrigin(keys.publicKeys().log.raw) });
  const gateway = await createGateway({
    home,
    env,
    config: parseGatewayConfig(
      {
        sandbox: { capabilities: { tools: { allow: [] }, models: { allow: ['*'] } } },
        models: {
          providers: [{ name: 'stand-in', kind: 'openai', base_url: `${provider}/v1` }],
          budgets: { tokens_per_hour: 1_000_000_000 },
          receipt_ack: ack,
        },
      },
      dir,
    ),
    listen: '127.0.0.1:0',
    logger: silentLogger(),
    signingWorkers: defaultSigningWorkers(),
  });
  const close = async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await gateway.listen();
    const agent = await gateway.services.agents.create({
      name: 'bench-agent',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'bench-agent',
        capabilities: { models: { allow: ['*'] } },
        quotas: { llm_tokens_per_request: 100_000 },
      },
    });
    const key = (await gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    return { url, key, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The model gateway against calling the stand-in provider directly and
 * through a bare undici proxy, in one run: added latency (plain and time to
 * the first streamed bytes) and proxied requests per second with budgets
 * and receipts on. The provider is the tests' stand-in (no remote provider is
 * reachable here).
 */
export const modelCases: BenchCase[] = [
  {
    id: 'model-gateway',
    title: 'Model gateway: added latency and throughput beside direct calls and a bare undici proxy',
    async run(report) {
      const provider = await startStandIn('bench');
      const proxy = await bareProxy(provider.url);
      const gateway = await benchGateway(provider.url, 'durable');
      const queuedGateway = await benchGateway(provider.url, 'queued');
      const clients: Client[] = [];
      try {
        const direct = new Client(`${provider.url}/v1/chat/completions`);
        const bare = new Client(`${proxy.url}/v1/chat/completions`);
        const viaGateway = new Client(new URL('/v1/chat/completions', gateway.url).href, gateway.key);
        const viaQueued = new Client(
          new URL('/v1/chat/completions', queuedGateway.url).href,
          queuedGateway.key,
        );
        clients.push(direct, bare, viaGateway, viaQueued);
        const directMs = await latencies(() => direct.post(BODY), SEQUENTIAL);
        const gatewayMs = await latencies(() => viaGateway.post(BODY), SEQUENTIAL);
        const queuedMs = await latencies(() => viaQueued.post(BODY), SEQUENTIAL);
        const firstDirect: number[] = [];
        const firstGateway: number[] = [];
        for (let i = 0; i < 100; i++) {
          firstDirect.push(await direct.firstToken());
          firstGateway.push(await viaGateway.firstToken());
        }
        // CPU of this whole process (load generator, stand-in, proxy or gateway and its signing threads)
        // per request: unlike req/s, it holds on a machine others share.
        const measured = async (client: Client) => {
          const before = process.cpuUsage();
          const rps = await throughput(() => client.post(BODY), CONCURRENT, IN_FLIGHT);
          const used = process.cpuUsage(before);
          return { rps, cpuMs: (used.user + used.system) / 1000 / CONCURRENT };
        };
        const bareRun = await measured(bare);
        const gatewayRun = await measured(viaGateway);
        const bareRps = bareRun.rps;
        const gatewayRps = gatewayRun.rps;
        report(`model gateway: ${gatewayRps.toFixed(0)} req/s vs bare proxy ${bareRps.toFixed(0)} req/s`);
        const load = loadavg()[0]?.toFixed(1) ?? '?';
        const note = `stand-in provider on loopback; budgets, policy and a fsynced receipt per call; ${IN_FLIGHT} in flight from one undici pool per target; load average ${load}`;
        const figures: Figure[] = [
          figure({
            case: 'model-gateway',
            metric: 'added latency p50 (non-streaming)',
            unit: 'ms',
            subject: percentile(gatewayMs, 50) - percentile(directMs, 50),
            baselineName: 'direct call p50',
            baseline: percentile(directMs, 50),
            goal: { op: '<=', value: 1 },
            note,
          }),
          figure({
            case: 'model-gateway',
            metric: 'added latency p50 (non-streaming), receipt queued (models.receipt_ack: queued)',
            unit: 'ms',
            subject: percentile(queuedMs, 50) - percentile(directMs, 50),
            baselineName: 'direct call p50',
            baseline: percentile(directMs, 50),
            goal: { op: '<=', value: 1 },
            note: note.replace('a fsynced receipt', 'a receipt written, not yet fsynced,'),
          }),
          figure({
            case: 'model-gateway',
            metric: 'p99 through the gateway (non-streaming)',
            unit: 'ms',
            subject: percentile(gatewayMs, 99),
            baselineName: 'direct call p99',
            baseline: percentile(directMs, 99),
            note,
          }),
          figure({
            case: 'model-gateway',
            metric: 'time to first streamed bytes p50',
            unit: 'ms',
            subject: percentile(firstGateway, 50),
            baselineName: 'direct p50',
            baseline: percentile(firstDirect, 50),
            note,
          }),
          figure({
            case: 'model-gateway',
            metric: 'proxied requests with budgets and receipts',
            unit: 'req/s',
            subject: gatewayRps,
            baselineName: 'bare undici pass-through proxy',
            baseline: bareRps,
            goal: { op: '>=', value: 5000 },
            note,
          }),
          figure({
            case: 'model-gateway',
            metric: 'CPU per proxied request (the whole bench process)',
            unit: 'ms',
            subject: gatewayRun.cpuMs,
            baselineName: 'bare undici pass-through proxy',
            baseline: bareRun.cpuMs,
            note,
          }),
        ];
        return figures;
      } finally {
        await Promise.all(clients.map((client) => client.close()));
        await gateway.close();
        await queuedGateway.close();
        await proxy.close();
        await provider.close();
      }
    },
  },
];
