import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
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
        report('one node: every connection on gw-0');
        const one = await cannon(new URL(path, first.url), headers, body, CONNECTIONS);
        await start(1);
        await start(2);
        report('three nodes: a third of the connections on each');
        const three = await Promise.all(
          gateways.map((g) => cannon(new URL(path, g.url), headers, body, CONNECTIONS / 3)),
        );
        const total = three.reduce((sum, r) => sum + r.rps, 0);
        const non2xx = one.non2xx + three.reduce((sum, r) => sum + r.non2xx, 0);
        report(`non-2xx: ${non2xx}`);
        const note = `oacp gateway processes, shared PostgreSQL (test server) and etcd, all on this machine; non-2xx ${non2xx}; ${load}`;
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
