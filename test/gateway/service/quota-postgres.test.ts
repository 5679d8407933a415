import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { OacpApiError, OacpClient } from '../../../src/client/index.js';
import { ApiKeys } from '../../../src/gateway/apikeys/api-keys.js';
import { openStore } from '../../../src/store/open-store.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../../store/postgres-server.js';
import { type ChildGateway, MEMORY_SERVER, startChild } from './child-gateway.js';
import { freshHome } from './node-home.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL quota tests skipped: ${unavailable}`);

const KEY_PER_MIN = 10;
const TOOL_PER_MIN = 2;

interface Node {
  readonly home: string;
  readonly config: string;
  readonly env: Record<string, string>;
  gateway?: ChildGateway;
}

/** What a call came to: allowed, or refused naming the quota (anything else fails the test). */
async function attempt(call: () => Promise<unknown>): Promise<'allowed' | string> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    if (error instanceof OacpApiError && error.status === 429 && error.quota !== undefined)
      return error.quota;
    throw error;
  }
}

/**
 * Quotas on a PostgreSQL store shared by gateway processes: what one gateway
 * grants, every gateway sees; a kill -9 and restart hands out nothing fresh;
 * when the store is gone, calls are refused. Each gateway is its own process
 * with its own home (keys, log), all on one database.
 */
describe.skipIf(unavailable !== undefined)('quotas on PostgreSQL across gateway processes', () => {
  let server: PostgresServer | undefined;
  let url = '';
  const nodes: Node[] = [];
  const removers: Array<() => void> = [];
  const keys: string[] = [];

  async function newKey(): Promise<string> {
    const store = await openStore(url);
    try {
      return (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
    } finally {
      await store.close();
    }
  }

  const keyAt = (i: number): string => {
    const key = keys[i];
    if (key === undefined) throw new Error(`no key ${i}`);
    return key;
  };

  const client = (node: Node, key: string) => {
    if (node.gateway === undefined) throw new Error('gateway not started');
    return new OacpClient({ baseUrl: node.gateway.url, apiKey: key });
  };

  async function start(node: Node): Promise<void> {
    node.gateway = await startChild(node.home, node.config, node.env);
  }

  async function kill(node: Node): Promise<void> {
    node.gateway?.process.kill('SIGKILL');
    await node.gateway?.exited;
    delete node.gateway;
  }

  async function agent(key: string, name: string, quotas: Record<string, number>): Promise<string> {
    const created = await client(nodes[0] as Node, key).createAgent({
      name,
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name,
        capabilities: { tools: { allow: ['memory__*'] } },
        quotas,
      },
    });
    return created.id;
  }

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) throw new Error(`the PostgreSQL test server did not start: ${started.skipped}`);
    server = started;
    url = await server.createDatabase();
    (await openStore(url)).close();
    for (let i = 0; i < 3; i++) {
      const home = await freshHome(`oacp-quota-pg-${i}-`);
      removers.push(home.remove);
      const memory = join(home.home, 'memory.jsonl');
      writeFileSync(memory, '');
      const config = join(home.home, 'oacp.yaml');
      writeFileSync(
        config,
        stringify({
          gateway: { store: url },
          sandbox: { capabilities: { tools: { allow: ['*'] } } },
          mcp: {
            servers: [
              {
                name: 'memory',
                command: process.execPath,
                args: [MEMORY_SERVER],
                tier: 'light',
                allow_env: ['MEMORY_FILE_PATH'],
              },
            ],
          },
          quotas: { tools: { memory__search_nodes: TOOL_PER_MIN }, api_key_calls_per_min: KEY_PER_MIN },
        }),
      );
      nodes.push({ home: home.home, config, env: { ...home.env, MEMORY_FILE_PATH: memory } });
    }
    for (let i = 0; i < 8; i++) keys.push(await newKey());
    await Promise.all(nodes.map(start));
  }, 180_000);

  afterAll(async () => {
    for (const node of nodes) node.gateway?.process.kill('SIGKILL');
    await server?.stop();
    for (const remove of removers) remove();
  });

  it('lets spaced callers through exactly the limit (4/hour, a call every 1.2 s)', async () => {
    const key = keyAt(0);
    const id = await agent(key, 'spaced', { api_calls_per_hour: 4, burst: 0 });
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1_200));
      outcomes.push(
        await attempt(() => client(nodes[0] as Node, key).callTool('memory__read_graph', {}, { agent: id })),
      );
    }
    expect(outcomes).toEqual([
      'allowed',
      'allowed',
      'allowed',
      'allowed',
      'agent.api_calls_per_hour',
      'agent.api_calls_per_hour',
      'agent.api_calls_per_hour',
    ]);
    // Every gateway reads the same bucket.
    const view = await client(nodes[2] as Node, key).quota(id);
    expect(view.toolCalls).toBe(4);
    expect(view.rates.api_calls_per_hour).toMatchObject({
      limit: '4/hour',
      used: 4,
      available: 0,
      refused: 3,
    });
  }, 60_000);

  it('hands out nothing fresh after kill -9 and restart: agent, MCP tool and API-key buckets stay used', async () => {
    const [agentKey, toolKey, burstKey] = [keyAt(1), keyAt(2), keyAt(3)];
    const node = nodes[0] as Node;
    const full = await agent(agentKey, 'eight', { api_calls_per_hour: 8, burst: 0 });
    const plain = await agent(toolKey, 'plain', {});
    for (let i = 0; i < 8; i++)
      await client(node, agentKey).callTool('memory__read_graph', {}, { agent: full });
    expect(
      await attempt(() => client(node, agentKey).callTool('memory__read_graph', {}, { agent: full })),
    ).toBe('agent.api_calls_per_hour');
    for (let i = 0; i < TOOL_PER_MIN; i++)
      await client(node, toolKey).callTool('memory__search_nodes', { query: 'x' }, { agent: plain });
    expect(
      await attempt(() =>
        client(node, toolKey).callTool('memory__search_nodes', { query: 'x' }, { agent: plain }),
      ),
    ).toBe('tool.memory__search_nodes.calls_per_min');
    for (let i = 0; i < KEY_PER_MIN; i++)
      await client(node, burstKey).callTool('memory__read_graph', {}, { agent: plain });
    const emptied = Date.now();
    expect(
      await attempt(() => client(node, burstKey).callTool('memory__read_graph', {}, { agent: plain })),
    ).toMatch(/^api_key\..+\.calls_per_min$/);

    await kill(node);
    await start(node);

    // The agent's hourly bucket earns one call back every 7.5 minutes: still refused.
    expect(
      await attempt(() => client(node, agentKey).callTool('memory__read_graph', {}, { agent: full })),
    ).toBe('agent.api_calls_per_hour');
    // Per-minute buckets may have earned back what the elapsed time pays for, and nothing more:
    // a fresh bucket would allow the whole limit again.
    const toolOutcomes: string[] = [];
    const keyOutcomes: string[] = [];
    for (let i = 0; i < TOOL_PER_MIN; i++)
      toolOutcomes.push(
        await attempt(() =>
          client(node, toolKey).callTool('memory__search_nodes', { query: 'x' }, { agent: plain }),
        ),
      );
    for (let i = 0; i < KEY_PER_MIN; i++)
      keyOutcomes.push(
        await attempt(() => client(node, burstKey).callTool('memory__read_graph', {}, { agent: plain })),
      );
    const elapsed = Date.now() - emptied;
    expect(elapsed).toBeLessThan(60_000);
    const earned = (perMinute: number) => Math.floor((elapsed * perMinute) / 60_000);
    expect(toolOutcomes.filter((o) => o === 'allowed').length).toBeLessThanOrEqual(earned(TOOL_PER_MIN));
    expect(keyOutcomes.filter((o) => o === 'allowed').length).toBeLessThanOrEqual(earned(KEY_PER_MIN));
    expect(keyOutcomes.filter((o) => o === 'allowed').length).toBeLessThan(KEY_PER_MIN);
  }, 180_000);

  it('shares one API-key bucket among three gateways, alternating and concurrent', async () => {
    const [alternatingKey, concurrentKey, agentKey] = [keyAt(4), keyAt(5), keyAt(6)];
    const id = await agent(alternatingKey, 'shared', {});
    const started = Date.now();
    const alternating: string[] = [];
    for (let i = 0; i < 3 * KEY_PER_MIN; i++) {
      const node = nodes[i % 3] as Node;
      alternating.push(
        await attempt(() => client(node, alternatingKey).callTool('memory__read_graph', {}, { agent: id })),
      );
    }
    const concurrentStart = Date.now();
    const concurrent = await Promise.all(
      Array.from({ length: 4 * KEY_PER_MIN }, (_, i) =>
        attempt(() =>
          client(nodes[i % 3] as Node, concurrentKey).callTool('memory__read_graph', {}, { agent: id }),
        ),
      ),
    );
    const finished = Date.now();
    const allowed = (outcomes: string[]) => outcomes.filter((o) => o === 'allowed').length;
    // Exactly the limit, plus what the elapsed time refilled (one call per 6 s at 10/min).
    expect(allowed(alternating)).toBeGreaterThanOrEqual(KEY_PER_MIN);
    expect(allowed(alternating)).toBeLessThanOrEqual(
      KEY_PER_MIN + Math.floor(((concurrentStart - started) * KEY_PER_MIN) / 60_000),
    );
    expect(allowed(concurrent)).toBeGreaterThanOrEqual(KEY_PER_MIN);
    expect(allowed(concurrent)).toBeLessThanOrEqual(
      KEY_PER_MIN + Math.floor(((finished - concurrentStart) * KEY_PER_MIN) / 60_000),
    );
    for (const outcome of [...alternating, ...concurrent].filter((o) => o !== 'allowed'))
      expect(outcome).toMatch(/^api_key\..+\.calls_per_min$/);

    // An agent allowed 8 an hour gets 8 across the three gateways at once, not 8 each.
    const eight = await agent(agentKey, 'eight-shared', { api_calls_per_hour: 8, burst: 0 });
    const outcomes = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        attempt(() =>
          client(nodes[i % 3] as Node, keyAt(7)).callTool('memory__read_graph', {}, { agent: eight }),
        ),
      ),
    );
    expect(allowed(outcomes)).toBe(8);
    expect(outcomes.filter((o) => o === 'agent.api_calls_per_hour')).toHaveLength(1);
  }, 120_000);

  it('batches multi-bucket reservations on two gateways over crossing buckets without a deadlock or a partial take', async () => {
    // Two stores = two connection pools, as two gateway processes. Each reservation takes a ring
    // neighbour pair; taken in batch order without the ordered pre-lock, gateway A's batch would hold
    // s0,s1 and wait for s2 while B's holds s2,s3 and waits for s0: PostgreSQL would abort one.
    const stores = [await openStore(url), await openStore(url)];
    const engines = stores.map((store) => new StoreQuotaEngine(store, () => 1_700_000_000_000));
    const shape = { capacity: 30, refill: 0, windowMs: 60_000 };
    const bucket = (n: number) => ({
      key: `ring:s${n % 4}`,
      quota: `ring.s${n % 4}`,
      label: '30',
      shape,
      amount: 1,
    });
    for (let n = 0; n < 4; n++) expect((await engines[0]?.reserve([bucket(n)]))?.ok).toBe(true);
    const results = await Promise.all(
      engines.flatMap((engine, g) =>
        Array.from({ length: 40 }, (_, i) => engine.reserve([bucket(i + 2 * g), bucket(i + 2 * g + 1)])),
      ),
    );
    const allowed = results.filter((r) => r.ok).length;
    const refusals = results.flatMap((r) => (r.ok ? [] : [r.refusal.quota]));
    expect(refusals.filter((quota) => !quota.startsWith('ring.'))).toEqual([]);
    expect(allowed).toBeLessThan(80);
    let used = 0;
    for (let n = 0; n < 4; n++) {
      const row = await stores[0]?.quotaBuckets.get(`ring:s${n}`);
      expect(row?.used).toBeLessThanOrEqual(30);
      used += (row?.used ?? 0) - 1;
    }
    // Every allowed reservation took exactly its two buckets; no refused one left a take behind.
    expect(used).toBe(2 * allowed);
    expect(engines.every((engine) => engine.transactions < 41)).toBe(true);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('refuses calls, naming why, when PostgreSQL is gone', async () => {
    const key = keyAt(6);
    const id = await agent(key, 'outage', {});
    await client(nodes[1] as Node, key).callTool('memory__read_graph', {}, { agent: id });
    const store = await openStore(url);
    const engine = new StoreQuotaEngine(store);
    const bucket = { key: 'outage', quota: 'tool.outage.calls_per_min', label: '5/min', amount: 1 };
    const shape = { capacity: 5, refill: 5, windowMs: 60_000 };
    expect((await engine.reserve([{ ...bucket, shape }])).ok).toBe(true);
    await server?.stop();
    server = undefined;
    expect(await engine.reserve([{ ...bucket, shape }])).toMatchObject({
      ok: false,
      refusal: {
        quota: 'quota.store',
        reason: expect.stringMatching(
          /^quota tool.outage.calls_per_min could not be checked in the store at postgres:\/\/.*did not answer.*; refused$/,
        ),
      },
    });
    await store.close();
    for (const node of nodes) {
      const outcome = await client(node, key)
        .callTool('memory__read_graph', {}, { agent: id })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      // The agent lookup or the quota check meets the outage first; either way: refused, 503, saying why.
      expect(outcome).toBeInstanceOf(OacpApiError);
      expect(outcome).toMatchObject({
        status: 503,
        code: expect.stringMatching(/^(RUNTIME_QUOTA_UNAVAILABLE|STORE_UNAVAILABLE)$/),
        message: expect.stringMatching(/the PostgreSQL store at postgres:\/\/.* did not answer/),
      });
    }
  }, 60_000);
});
