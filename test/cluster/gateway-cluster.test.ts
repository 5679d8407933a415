import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OacpClient } from '../../src/client/index.js';
import { ApiKeys } from '../../src/gateway/apikeys/api-keys.js';
import { openStore } from '../../src/store/open-store.js';
import { type ChildGateway, startChild } from '../gateway/service/child-gateway.js';
import { freshHome } from '../gateway/service/node-home.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../store/postgres-server.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd-server.js';

const unavailable = etcdUnavailable() ?? postgresUnavailable();
if (unavailable !== undefined) console.warn(`gateway cluster tests skipped: ${unavailable}`);
/** Lease TTL 2 s, an election, a placement, a sandbox start. */
const REPLACE_BOUND_MS = 15_000;

/**
 * Three `oacp gateway` processes with `cluster:` in oacp.yaml, on one
 * PostgreSQL and one etcd started here: an agent runs on exactly one of them,
 * any of them answers for it, a kill -9 of the owner moves it, and a
 * lifecycle change made on a non-owner reaches the owner.
 */
describe.skipIf(unavailable !== undefined)('gateways in a cluster (PostgreSQL + etcd)', () => {
  let pg: PostgresServer | undefined;
  let etcd: EtcdServer | undefined;
  const gateways: (ChildGateway | undefined)[] = [];
  const removers: Array<() => void> = [];
  let key = '';

  const client = (i: number) => {
    const gateway = gateways[i];
    if (gateway === undefined) throw new Error(`gateway ${i} is not running`);
    return new OacpClient({ baseUrl: gateway.url, apiKey: key });
  };
  const live = () => gateways.flatMap((g, i) => (g === undefined ? [] : [i]));
  const runningOn = async (id: string) => {
    const views = await Promise.all(
      live().map(async (i) => [i, (await client(i).getAgent(id)).runtime.status] as const),
    );
    return views.filter(([, status]) => status === 'running').map(([i]) => i);
  };

  beforeAll(async () => {
    const started = await startPostgres();
    if ('skipped' in started) throw new Error(`PostgreSQL did not start: ${started.skipped}`);
    pg = started;
    etcd = await startEtcd();
    const url = await pg.createDatabase();
    const store = await openStore(url);
    key = (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
    await store.close();
    const starts = [0, 1, 2].map(async (i) => {
      const home = await freshHome(`oacp-cluster-gw-${i}-`);
      removers.push(home.remove);
      const config = join(home.home, 'oacp.yaml');
      writeFileSync(
        config,
        stringify({
          gateway: { store: url },
          cluster: { etcd: [etcd?.endpoint], node_id: `gw-${i}`, ttl_seconds: 2 },
        }),
      );
      gateways[i] = await startChild(home.home, config, home.env);
    });
    await Promise.all(starts);
  }, 180_000);

  afterAll(async () => {
    for (const gateway of gateways) gateway?.process.kill('SIGKILL');
    await etcd?.stop();
    await pg?.stop();
    for (const remove of removers) remove();
  });

  it('runs an agent on exactly one node, answers for it on every node, and moves it when the owner is killed', async () => {
    const agent = await client(0).createAgent({
      name: 'placed',
      code: 'function main(input) { return "ran " + input; }',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'placed',
        quotas: { memory_mb: 16 },
      },
    });
    await client(1).startAgent(agent.id);
    await expect
      .poll(() => runningOn(agent.id), { timeout: REPLACE_BOUND_MS, interval: 200 })
      .toHaveLength(1);
    for (const i of live()) expect((await client(i).runAgent(agent.id, { input: i })).value).toBe(`ran ${i}`);

    const [owner] = await runningOn(agent.id);
    gateways[owner as number]?.process.kill('SIGKILL');
    await gateways[owner as number]?.exited;
    gateways[owner as number] = undefined;
    await expect
      .poll(() => runningOn(agent.id), { timeout: REPLACE_BOUND_MS, interval: 200 })
      .toHaveLength(1);
    for (const i of live()) expect((await client(i).runAgent(agent.id, { input: i })).value).toBe(`ran ${i}`);

    // Suspended through the node that does not run it: the owner stops the sandbox.
    const [runner] = await runningOn(agent.id);
    const other = live().find((i) => i !== runner) as number;
    await client(other).suspendAgent(agent.id);
    await expect.poll(() => runningOn(agent.id), { timeout: 10_000, interval: 200 }).toHaveLength(0);
  }, 120_000);
});
