import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pgDriver from 'pg';
import { stringify } from 'yaml';
import { OacpClient } from '../../src/client/index.js';
import { ApiKeys } from '../../src/gateway/apikeys/api-keys.js';
import { openStore } from '../../src/store/open-store.js';
import { startEtcd } from '../../test/cluster/etcd-server.js';
import { type ChildGateway, MEMORY_SERVER, startChild } from '../../test/gateway/service/child-gateway.js';
import { freshHome } from '../../test/gateway/service/node-home.js';
import { startPostgres } from '../../test/store/postgres-server.js';
import { type BenchCase, figure } from '../harness.js';
import { cannon, UNLIMITED } from './gateway.js';

const CONNECTIONS = 48;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_S = 100;
/** Connections per node of the unmeasured warm-up. */
const WARM_UP_CONNECTIONS = 4;
/** How long the three members are watched idle. */
const IDLE_MS = 5_000;

/** Every process as /proc lists it: parent, command line, CPU ticks (its own and its reaped children's). */
function processes(): Map<number, { ppid: number; cmdline: string; ticks: number }> {
  const all = new Map<number, { ppid: number; cmdline: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based fields.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      all.set(Number(name), { ppid: Number(fields[1]), cmdline, ticks });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return all;
}

/** CPU seconds used so far by the processes `match` picks and all their descendants. */
function cpuSeconds(match: (pid: number, cmdline: string) => boolean): number {
  const all = processes();
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 64; hops++) {
      const entry = all.get(at);
      if (entry === undefined) return false;
      if (match(at, entry.cmdline)) return true;
      at = entry.ppid;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, entry] of all) if (inTree(pid)) ticks += entry.ticks;
  return ticks / TICKS_PER_S;
}

/** What one phase cost: calls (receipts logged) and CPU seconds per part of the cluster. */
interface PhaseCost {
  readonly calls: number;
  readonly gateways: number;
  readonly postgres: number;
  readonly etcd: number;
  /** PostgreSQL transactions and statements (pg_stat_statements is not assumed: rows read + written). */
  readonly transactions: number;
}

/**
 * Attested MCP tool calls (memory__read_graph, the server in the light tier)
 * through `oacp gateway` processes sharing one PostgreSQL store and etcd:
 * one node taking all the load, then three nodes each taking a third, on
 * this one machine (so three nodes share its cores, and PostgreSQL too).
 */
export const clusterCases: BenchCase[] = [
  {
    id: 'cluster-tool-calls',
    title: `gateway tool calls per second with 1 and 3 nodes (${CONNECTIONS} connections in all)`,
    async run(report) {
      // The machine's load when the run began: the figures move with it (2 shared cores here).
      const load = `load average ${loadavg()[0]?.toFixed(1)} at the start`;
      const pg = await startPostgres();
      if ('skipped' in pg) throw new Error(`PostgreSQL did not start: ${pg.skipped}`);
      const etcd = await startEtcd();
      const gateways: ChildGateway[] = [];
      const removers: Array<() => void> = [];
      try {
        const url = await pg.createDatabase();
        const store = await openStore(url);
        const key = (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
        await store.close();
        const start = async (i: number) => {
          const home = await freshHome(`oacp-bench-cluster-${i}-`);
          removers.push(home.remove);
          const memory = join(home.home, 'memory.jsonl');
          writeFileSync(memory, '');
          const config = join(home.home, 'oacp.yaml');
          writeFileSync(
            config,
            stringify({
              gateway: { store: url },
              cluster: { etcd: [etcd.endpoint], node_id: `gw-${i}` },
              sandbox: { capabilities: { tools: { allow: ['*'] } } },
              quotas: UNLIMITED,
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
            }),
          );
          gateways.push(await startChild(home.home, config, { ...home.env, MEMORY_FILE_PATH: memory }));
        };
        await start(0);
        const first = gateways[0] as ChildGateway;
        const agent = await new OacpClient({ baseUrl: first.url, apiKey: key }).createAgent({
          name: 'bench',
          manifest: {
            apiVersion: 'oacp.dev/v1',
            kind: 'CapabilityManifest',
            name: 'bench',
            capabilities: { tools: { allow: ['memory__*'] } },
            quotas: UNLIMITED,
          },
        });
        const body = JSON.stringify({ agent: agent.id, arguments: {} });
        const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
        const path = '/v1/tools/memory__read_graph/call';
        // CPU per call by part: the gateways (with their MCP servers), PostgreSQL (the postmaster
        // of this run's port and its backends) and etcd (this run's member). On 2 cores the sum is
        // what bounds calls/s, however many nodes share them.
        const pgPort = new URL(url).port;
        // Its own connection, counted in the figures it reads (a couple of transactions a phase).
        const pgStats = new pgDriver.Client({ connectionString: url });
        pgStats.on('error', () => undefined);
        await pgStats.connect();
        removers.push(() => void pgStats.end());
        const etcdPort = new URL(etcd.endpoint).port;
        const sample = async () => {
          const pids = new Set(gateways.map((g) => g.process.pid));
          const logged = await Promise.all(
            gateways.map(
              async (g) =>
                ((await (await fetch(new URL('/healthz', g.url))).json()) as { logSize: number }).logSize,
            ),
          );
          const stats = await pgStats.query<{ xacts: string }>(
            'SELECT xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = current_database()',
          );
          return {
            transactions: Number(stats.rows[0]?.xacts ?? 0),
            calls: logged.reduce((sum, n) => sum + n, 0),
            gateways: cpuSeconds((pid) => pids.has(pid)),
            postgres: cpuSeconds((_pid, cmd) => cmd.includes('postgres') && cmd.includes(`-p ${pgPort} `)),
            etcd: cpuSeconds((_pid, cmd) => cmd.startsWith('/usr/bin/etcd') && cmd.includes(`:${etcdPort}`)),
          };
        };
        const phase = async (run: () => Promise<unknown>): Promise<PhaseCost> => {
          const before = await sample();
          await run();
          const after = await sample();
          return {
            calls: after.calls - before.calls,
            gateways: after.gateways - before.gateways,
            postgres: after.postgres - before.postgres,
            etcd: after.etcd - before.etcd,
            transactions: after.transactions - before.transactions,
          };
        };
        const perCall = (cost: PhaseCost, part: 'gateways' | 'postgres' | 'etcd') =>
          cost.calls === 0 ? 0 : (cost[part] * 1000) / cost.calls;
        const describe = (cost: PhaseCost) =>
          `${cost.calls} calls; CPU per call: gateways ${perCall(cost, 'gateways').toFixed(2)} ms, PostgreSQL ${perCall(cost, 'postgres').toFixed(2)} ms (${(cost.transactions / Math.max(cost.calls, 1)).toFixed(2)} transactions), etcd ${perCall(cost, 'etcd').toFixed(3)} ms`;

        // A node's first seconds run unoptimised code (V8 warms up): every node gets the same
        // unmeasured warm-up before its phase, so neither phase pays for it.
        const warmUp = (nodes: readonly ChildGateway[]) =>
          Promise.all(nodes.map((g) => cannon(new URL(path, g.url), headers, body, WARM_UP_CONNECTIONS)));
        report('warm-up of gw-0 (not measured)');
        await warmUp([first]);
        report('one node: every connection on gw-0');
        let one = { rps: 0, non2xx: 0 };
        const oneCost = await phase(async () => {
          one = await cannon(new URL(path, first.url), headers, body, CONNECTIONS);
        });
        report(`one node: ${describe(oneCost)}`);
        // The same node at one node's share of the 3-node load: what smaller batches alone cost.
        const thirdCost = await phase(() => cannon(new URL(path, first.url), headers, body, CONNECTIONS / 3));
        report(`one node at ${CONNECTIONS / 3} connections: ${describe(thirdCost)}`);
        await start(1);
        await start(2);
        report('warm-up of gw-1 and gw-2 (not measured)');
        await warmUp(gateways.slice(1));
        // What three idle members cost (lease renewals, placement watches, checkpoint gossip and
        // cosigning, timers): CPU that serves no call, spread over the calls of the next phase.
        const idle = await phase(() => new Promise((resolve) => setTimeout(resolve, IDLE_MS)));
        const idleCpu = `3 idle nodes: gateways ${((idle.gateways * 1000) / IDLE_MS).toFixed(1)} ms CPU/s, PostgreSQL ${((idle.postgres * 1000) / IDLE_MS).toFixed(1)} ms/s, etcd ${((idle.etcd * 1000) / IDLE_MS).toFixed(1)} ms/s`;
        report(idleCpu);
        report('three nodes: a third of the connections on each');
        let three: { rps: number; non2xx: number }[] = [];
        const threeCost = await phase(async () => {
          three = await Promise.all(
            gateways.map((g) => cannon(new URL(path, g.url), headers, body, CONNECTIONS / 3)),
          );
        });
        report(`three nodes: ${describe(threeCost)}`);
        const total = three.reduce((sum, r) => sum + r.rps, 0);
        const non2xx = one.non2xx + three.reduce((sum, r) => sum + r.non2xx, 0);
        report(`non-2xx: ${non2xx}`);
        const note = `oacp gateway processes, shared PostgreSQL (test server) and etcd, all on this machine; non-2xx ${non2xx}; ${load}; 1 node: ${describe(oneCost)}; 1 node at ${CONNECTIONS / 3} connections: ${describe(thirdCost)}; 3 nodes: ${describe(threeCost)}; ${idleCpu}`;
        const cpuPerCall = (cost: PhaseCost) =>
          perCall(cost, 'gateways') + perCall(cost, 'postgres') + perCall(cost, 'etcd');
        return [
          figure({
            case: 'cluster-tool-calls',
            metric: 'attested MCP tool calls, 3 nodes',
            unit: 'calls/s',
            subject: total,
            baselineName: '1 node',
            baseline: one.rps,
            note,
          }),
          figure({
            case: 'cluster-tool-calls',
            metric: 'CPU per call, 3 nodes (gateways + PostgreSQL + etcd)',
            unit: 'ms',
            subject: cpuPerCall(threeCost),
            baselineName: '1 node',
            baseline: cpuPerCall(oneCost),
            note: `2 cores bound calls/s at about ${Math.round(2000 / Math.max(cpuPerCall(threeCost), 0.001))} with 3 nodes and ${Math.round(2000 / Math.max(cpuPerCall(oneCost), 0.001))} with 1, whatever the load; the load generator (autocannon) is not counted`,
          }),
        ];
      } finally {
        for (const gateway of gateways) gateway.process.kill('SIGKILL');
        await Promise.all(gateways.map((g) => g.exited));
        await etcd.stop();
        await pg.stop();
        for (const remove of removers) remove();
      }
    },
  },
];
