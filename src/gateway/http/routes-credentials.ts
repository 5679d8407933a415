import { z } from 'zod';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { type Route, route, scope } from './route.js';
import { findAgent } from './routes-agents.js';
import type { GatewayServices } from './services.js';

const PutCredentialSchema = z.strictObject({
  /** A tool name or a `prefix*` pattern the credential is for. */
  tool: z.string(),
  inject: z.strictObject({ kind: z.enum(['env', 'header']), name: z.string() }),
  value: z.string(),
});

/**
 * Tool credentials of an agent: written with an API key holding
 * `credentials:write`, listed without their values, never read back. The
 * value is injected into matching tool calls only (ToolContext.credentials).
 */
export function credentialRoutes(services: GatewayServices): Route[] {
  const vault = () => {
    if (services.credentials === undefined) throw httpError('NOT_FOUND', 'this gateway keeps no credentials');
    return services.credentials;
  };
  return [
    route('PUT', '/v1/agents/:id/credentials/:name', scope('credentials:write'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const body = await parseBody(c, PutCredentialSchema);
      const info = await vault().put({ name: c.req.param('name') ?? '', agentId: agent.id, ...body });
      services.logger.info('credential stored', {
        agent: agent.name,
        credential: info.name,
        tool: info.tool,
      });
      return c.json(info);
    }),

    route('GET', '/v1/agents/:id/credentials', scope('credentials:write'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      return c.json({ credentials: await vault().describe({ agentId: agent.id }) });
    }),

    route('DELETE', '/v1/agents/:id/credentials/:name', scope('credentials:write'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const name = c.req.param('name') ?? '';
      const tool = c.req.query('tool');
      if (tool === undefined) throw httpError('BAD_REQUEST', 'tool: give the tool pattern as ?tool=');
      if (!(await vault().delete(name, agent.id, tool))) {
        throw httpError('NOT_FOUND', `agent ${agent.name} has no credential ${name} for ${tool}`);
      }
      return c.json({ deleted: true });
    }),
  ];
}
