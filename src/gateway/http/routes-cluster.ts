import { z } from 'zod';
import { clusterError } from '../../cluster/errors.js';
import { describeError } from '../../core/errors.js';
import { MIGRATIONS_PATH } from '../runtime/gateway-cluster.js';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { forward, hopsOf } from './forward.js';
import { open, type Route, route, scope } from './route.js';
import { findAgent } from './routes-agents.js';
import { LOG_IS_PUBLIC, publishedCheckpoint, receiptWithProof } from './routes-public.js';
import type { GatewayServices } from './services.js';

const MigrateSchema = z.strictObject({
  /** The node to move the agent to (its `cluster.node_id`). */
  to: z.string().min(1).max(200),
});

/**
 * Where a member's receipts and checkpoint are read through any member (relative to a base URL):
 * an A2A card names these for the node that runs the agent, so whichever member a caller asks,
 * a receipt is read from the log it is in.
 */
export function memberLogPaths(nodeId: string): { receipts: string; checkpoint: string } {
  const node = `/v1/cluster/nodes/${encodeURIComponent(nodeId)}`;
  return { receipts: `${node}/receipts/{index}`, checkpoint: `${node}/log/checkpoint` };
}

/** Migration between cluster nodes (docs/cluster.md, Migration), and members' logs read through any member. */
export function clusterRoutes(services: GatewayServices): Route[] {
  const clusterOf = () => {
    if (services.cluster === undefined)
      throw httpError('BAD_REQUEST', 'this gateway is not in a cluster (oacp.yaml has no cluster: section)');
    return services.cluster;
  };
  /** This node's answer for its own log, else the named member's, fetched over the members' transport. */
  const fromMember = async (node: string, path: string, here: () => Promise<Response>): Promise<Response> => {
    const cluster = clusterOf();
    if (node === cluster.nodeId) return here();
    const member = await cluster.memberUrl(node);
    if (member === undefined) throw httpError('NOT_FOUND', `no cluster member named ${node}`);
    let answer: Response;
    try {
      answer = await cluster.fetch(new URL(path, member));
    } catch (error) {
      throw clusterError(
        'CLUSTER_UNAVAILABLE',
        `cluster member ${node} did not answer (${describeError(error)})`,
      );
    }
    const type = answer.headers.get('content-type') ?? 'application/json';
    return new Response(answer.body, { status: answer.status, headers: { 'content-type': type } });
  };
  return [
    route('GET', '/v1/cluster/nodes/:node/receipts/:index', LOG_IS_PUBLIC, async (c) => {
      const index = c.req.param('index') ?? '';
      return fromMember(c.req.param('node') ?? '', `/v1/receipts/${encodeURIComponent(index)}`, async () =>
        c.json(await receiptWithProof(services, index)),
      );
    }),

    route('GET', '/v1/cluster/nodes/:node/log/checkpoint', LOG_IS_PUBLIC, async (c) =>
      fromMember(c.req.param('node') ?? '', '/v1/log/checkpoint', async () =>
        c.body(await publishedCheckpoint(services), 200, {
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
        }),
      ),
    ),

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
