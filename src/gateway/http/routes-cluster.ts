import { z } from 'zod';
import { MIGRATIONS_PATH } from '../runtime/gateway-cluster.js';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { forward, hopsOf } from './forward.js';
import { open, type Route, route, scope } from './route.js';
import { findAgent } from './routes-agents.js';
import type { GatewayServices } from './services.js';

const MigrateSchema = z.strictObject({
  /** The node to move the agent to (its `cluster.node_id`). */
  to: z.string().min(1).max(200),
});

/** Migration between cluster nodes (docs/cluster.md, Migration). */
export function clusterRoutes(services: GatewayServices): Route[] {
  const clusterOf = () => {
    if (services.cluster === undefined)
      throw httpError('BAD_REQUEST', 'this gateway is not in a cluster (oacp.yaml has no cluster: section)');
    return services.cluster;
  };
  return [
    route('POST', '/v1/agents/:id/migrate', scope('agents:write'), async (c) => {
      const cluster = clusterOf();
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const body = await parseBody(c, MigrateSchema);
      if (agent.state !== 'running') {
        throw httpError(
          'BAD_REQUEST',
          `agent ${agent.name} is ${agent.state}; only a running agent migrates`,
        );
      }
      // The owner moves it: from any other node the request goes there (one hop).
      const owner = hopsOf(c.req.raw) === 0 ? await cluster.ownerElsewhere(agent.id) : undefined;
      if (owner !== undefined)
        return forward(c.req.raw, await c.var.readBody(), owner, services.cluster?.fetch ?? fetch);
      const moved = await cluster.migrate(agent.id, body.to);
      services.logger.info('agent migrated', { agent: agent.name, from: moved.source, to: moved.target });
      return c.json(moved);
    }),

    route(
      'POST',
      MIGRATIONS_PATH,
      open('node to node: the envelope is signed by a live member and sealed to this node'),
      async (c) => {
        const accepted = await clusterOf().accept(await parseBody(c, z.unknown()));
        return c.json(accepted, 202);
      },
    ),
  ];
}
