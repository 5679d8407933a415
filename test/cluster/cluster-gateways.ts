import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { OacpClient } from '../../src/client/index.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { ApiKeys } from '../../src/gateway/apikeys/api-keys.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { openStore } from '../../src/store/open-store.js';
import { type ChildGateway, startChild } from '../gateway/service/child-gateway.js';
import { freshHome } from '../gateway/service/node-home.js';
import { type PostgresServer, startPostgres } from '../store/postgres-server.js';
import { type EtcdServer, type Relay, startEtcd, startRelay } from './etcd-server.js';

/**
 * The one way cluster tests start `oacp gateway` processes: a real PostgreSQL
 * (a fresh database) and, unless the test brings its own etcd endpoints, one
 * real etcd, then `count` gateways with `cluster:` in their oacp.yaml, node
 * ids `gw-0`, `gw-1`, ... Optionally each gateway reaches etcd through its
 * own relay, so a test can cut one node off.
 */
export interface ClusterGateways {
  /** An admin API key in the shared store. */
  readonly key: string;
  readonly storeUrl: string;
  /** The etcd started here (undefined when the test passed its own endpoints). */
  readonly etcd: EtcdServer | undefined;
  readonly gateways: (ChildGateway | undefined)[];
  readonly relays: readonly Relay[];
  readonly homes: readonly string[];
  client(i: number): OacpClient;
  /** Indexes of the gateways not killed. */
  live(): number[];
  /** Gateways whose view of the agent says its sandbox runs there. */
  runningOn(agent: string): Promise<number[]>;
  /**
   * Every gateway's log (info and up, the newest 100 kB of each), killed ones included, one
   * block per node: what a failed test prints to show what the nodes did.
   */
  logs(): string;
  /** kill -9 (or another signal) and wait for the exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts gateway i again on its home and config (after kill); its log starts afresh. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterGatewayOptions {
  /** Temp-home prefix, for telling runs apart. */
  readonly name: string;
  readonly ttlSeconds: number;
  readonly count?: number;
  /** Reach etcd through one cuttable relay per gateway. */
  readonly relays?: boolean;
  /** etcd client URLs every gateway lists (a multi-member etcd started by the test). */
  readonly etcdEndpoints?: readonly string[];
  /** More oacp.yaml for gateway i: top-level sections, and keys merged into `cluster`. */
  readonly config?: (
    i: number,
    home: string,
  ) => { readonly top?: Record<string, unknown>; readonly cluster?: Record<string, unknown> };
}

export async function startClusterGateways(options: ClusterGatewayOptions): Promise<ClusterGateways> {
  const count = options.count ?? 3;
  const started = await startPostgres();
  if ('skipped' in started) throw new Error(`PostgreSQL did not start: ${started.skipped}`);
  const pg: PostgresServer = started;
  const gateways: (ChildGateway | undefined)[] = [];
  /** Each gateway ever started, by index: its log outlives a kill. */
  const children: ChildGateway[] = [];
  const removers: Array<() => void> = [];
  const relays: Relay[] = [];
  const homes: string[] = [];
  const envs: Record<string, string>[] = [];
  let etcd: EtcdServer | undefined;
  const stop = async () => {
    for (const gateway of gateways) gateway?.process.kill('SIGKILL');
    await Promise.all(gateways.map((gateway) => gateway?.exited));
    for (const relay of relays) await relay.cut().catch(() => undefined);
    await etcd?.stop();
    await pg.stop();
    for (const remove of removers) remove();
  };
  try {
    if (options.etcdEndpoints === undefined) etcd = await startEtcd();
    const endpoints = options.etcdEndpoints ?? [etcd?.endpoint as string];
    const storeUrl = await pg.createDatabase();
    const store = await openStore(storeUrl);
    const key = (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
    await store.close();
    const indexes = Array.from({ length: count }, (_, i) => i);
    if (options.relays === true) {
      relays.push(...(await Promise.all(indexes.map(() => startRelay(endpoints[0] as string)))));
    }
    await Promise.all(
      indexes.map(async (i) => {
        const home = await freshHome(`oacp-${options.name}-gw-${i}-`);
        removers.push(home.remove);
        homes[i] = home.home;
        envs[i] = home.env;
        // Each node keeps its own log under its own origin (one origin on two logs reads as a fork).
        writeNodeConfig(home.home, { version: 1, origin: `oacp.test/${options.name}/gw-${i}` });
        const extra = options.config?.(i, home.home) ?? {};
        const config = join(home.home, 'oacp.yaml');
        writeFileSync(
          config,
          stringify({
            ...extra.top,
            gateway: { store: storeUrl },
            cluster: {
              etcd: options.relays === true ? [relays[i]?.endpoint] : [...endpoints],
              node_id: `gw-${i}`,
              ttl_seconds: options.ttlSeconds,
              ...extra.cluster,
            },
          }),
        );
        const child = await startChild(home.home, config, home.env, { logLevel: 'info' });
        children[i] = child;
        gateways[i] = child;
      }),
    );
    const client = (i: number) => {
      const gateway = gateways[i];
      if (gateway === undefined) throw new Error(`gateway ${i} is not running`);
      return new OacpClient({ baseUrl: gateway.url, apiKey: key });
    };
    const live = () => gateways.flatMap((g, i) => (g === undefined ? [] : [i]));
    return {
      key,
      storeUrl,
      etcd,
      gateways,
      relays,
      homes,
      client,
      live,
      logs: () =>
        children
          .map(
            (child, i) =>
              `--- gw-${i} (${gateways[i] === undefined ? 'stopped' : 'live'}) ---\n${child.stderr()}`,
          )
          .join('\n'),
      async runningOn(agent) {
        const views = await Promise.all(
          live().map(async (i) => [i, (await client(i).getAgent(agent)).runtime.status] as const),
        );
        return views.filter(([, status]) => status === 'running').map(([i]) => i);
      },
      async kill(i, signal = 'SIGKILL') {
        const gateway = gateways[i];
        gateway?.process.kill(signal);
        await gateway?.exited;
        gateways[i] = undefined;
      },
      async restart(i) {
        const home = homes[i] as string;
        const child = await startChild(home, join(home, 'oacp.yaml'), envs[i] ?? {}, { logLevel: 'info' });
        children[i] = child;
        gateways[i] = child;
      },
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/**
 * A standard-tier agent (16 MiB) created through gateway 0 and started through gateway 1, then
 * waited for (up to `boundMs`) until exactly one gateway runs it. Returns its id.
 */
export async function placeAgent(
  cluster: ClusterGateways,
  agent: { readonly name: string; readonly code: string; readonly boundMs: number },
): Promise<string> {
  const created = await cluster.client(0).createAgent({
    name: agent.name,
    code: agent.code,
    manifest: {
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: agent.name,
      quotas: { memory_mb: 16 },
    },
  });
  await cluster.client(1).startAgent(created.id);
  const deadline = Date.now() + agent.boundMs;
  while ((await cluster.runningOn(created.id)).length !== 1) {
    if (Date.now() > deadline) throw new Error('the agent was not placed');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return created.id;
}

/**
 * The fault of a new owner that has not heard it owns the agent: nothing etcd says reaches
 * `target` (its relay holds its watch events), and the owner key is moved as a migration's
 * compare-and-set does (docs/cluster.md, Migration, step 4): it names the target under the
 * target's lease, and the source hears it and stops the agent. Returns what releases the relay
 * (safe to call twice); it is released already when the move throws.
 */
export async function moveOwnerUnheard(
  cluster: ClusterGateways,
  agent: string,
  source: number,
  target: number,
): Promise<() => void> {
  const release = cluster.relays[target]?.hold() ?? (() => undefined);
  const etcd = new Etcd3({ hosts: [String(cluster.etcd?.endpoint)] });
  const keys = clusterKeys();
  try {
    const member = JSON.parse(String(await etcd.get(keys.node(`gw-${target}`)).string()));
    const moved = await etcd
      .if(keys.owner(agent), 'Value', '==', `gw-${source}`)
      .then(etcd.put(keys.owner(agent)).value(`gw-${target}`).lease(member.lease))
      .commit();
    if (!moved.succeeded) throw new Error(`the owner key of ${agent} did not name gw-${source}`);
    return release;
  } catch (error) {
    release();
    throw error;
  } finally {
    etcd.close();
  }
}
