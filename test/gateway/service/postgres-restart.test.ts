import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OacpApiError, OacpClient } from '../../../src/client/index.js';
import { ApiKeys } from '../../../src/gateway/apikeys/api-keys.js';
import { openStore } from '../../../src/store/open-store.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../../store/postgres-server.js';
import { type ChildGateway, startChild, writeConfig } from './child-gateway.js';
import { freshHome } from './node-home.js';

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL restart tests skipped: ${unavailable}`);

const LIMIT = 6;

/**
 * PostgreSQL crashes and comes back under a running gateway: while it is
 * down every call is refused, saying why, none allowed; once it is back the
 * gateway serves again without a restart, and the quota is the one it was
 * (what was taken before stays taken, what was refused took nothing).
 */
describe.skipIf(unavailable !== undefined)('a gateway on PostgreSQL while PostgreSQL restarts', () => {
  let server: PostgresServer | undefined;
  let gateway: ChildGateway | undefined;
  const removers: Array<() => void> = [];

  afterAll(async () => {
    gateway?.process.kill('SIGKILL');
    await server?.stop();
    for (const remove of removers) remove();
  });

  it('attack: calls while the store is down are refused (503, naming the store), and the quota holds across the outage', async () => {
    const started = await startPostgres({ durableCommits: true });
    if ('skipped' in started) throw new Error(`the PostgreSQL test server did not start: ${started.skipped}`);
    server = started;
    const url = await server.createDatabase();
    const home = await freshHome('oacp-pg-restart-');
    removers.push(home.remove);
    const memory = join(home.home, 'memory.jsonl');
    const config = writeConfig(home.home, memory, { gateway: { store: url } });
    const store = await openStore(url);
    const key = (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
    await store.close();
    gateway = await startChild(home.home, config, { ...home.env, MEMORY_FILE_PATH: memory });
    const client = new OacpClient({ baseUrl: gateway.url, apiKey: key });
    const created = await client.createAgent({
      name: 'outage',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'outage',
        capabilities: { tools: { allow: ['memory__*'] } },
        quotas: { api_calls_per_hour: LIMIT, burst: 0 },
      },
    });
    const call = () =>
      client.callTool('memory__read_graph', {}, { agent: created.id }).then(
        () => 'allowed',
        (error: unknown) => {
          if (!(error instanceof OacpApiError)) throw error;
          if (error.status === 429) return `refused ${String(error.quota)}`;
          return `${error.status} ${error.code}: ${error.message}`;
        },
      );
    expect([await call(), await call()]).toEqual(['allowed', 'allowed']);

    await server.halt();
    const during = await Promise.all(Array.from({ length: 6 }, call));
    for (const outcome of during)
      expect(outcome).toMatch(
        /^503 (RUNTIME_QUOTA_UNAVAILABLE|STORE_UNAVAILABLE): .*the PostgreSQL store at postgres:\/\/.* did not answer/,
      );

    await server.resume();
    // Back without restarting the gateway: the first call that reaches the store goes through.
    const deadline = Date.now() + 30_000;
    let first = await call();
    while (first !== 'allowed' && Date.now() < deadline) {
      expect(first).toMatch(/^503 /);
      await new Promise((resolve) => setTimeout(resolve, 500));
      first = await call();
    }
    expect(first).toBe('allowed');
    expect(gateway.process.exitCode).toBeNull();
    // Two before, one just now: exactly LIMIT - 3 more, then the quota refuses.
    const after: string[] = [];
    for (let i = 0; i < LIMIT - 2; i++) after.push(await call());
    expect(after.slice(0, LIMIT - 3)).toEqual(Array(LIMIT - 3).fill('allowed'));
    expect(after[LIMIT - 3]).toBe('refused agent.api_calls_per_hour');
  }, 180_000);
});
