import type { Hono } from 'hono';
import { z } from 'zod';
import { requireScope } from './auth.js';
import { type GatewayEnv, parseBody } from './env.js';
import { httpError } from './errors.js';
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
export function credentialRoutes(app: Hono<GatewayEnv>, services: GatewayServices): void {
  const vault = () => {
    if (services.credentials === undefined) throw httpError('NOT_FOUND', 'this gateway keeps no credentials');
    return services.credentials;
  };

  app.put('/v1/agents/:id/credentials/:name', async (c) => {
    requireScope(c.get('principal'), 'credentials:write');
    const agent = await findAgent(services, c.req.param('id'));
    const body = parseBody(c, PutCredentialSchema);
    const info = await vault().put({ name: c.req.param('name'), agentId: agent.id, ...body });
    services.logger.info('credential stored', { agent: agent.name, credential: info.name, tool: info.tool });
    return c.json(info);
  });

  app.get('/v1/agents/:id/credentials', async (c) => {
    requireScope(c.get('principal'), 'credentials:write');
    const agent = await findAgent(services, c.req.param('id'));
    return c.json({ credentials: await vault().describe({ agentId: agent.id }) });
  });

  app.delete('/v1/agents/:id/credentials/:name', async (c) => {
    requireScope(c.get('principal'), 'credentials:write');
    const agent = await findAgent(services, c.req.param('id'));
    const tool = c.req.query('tool');
    if (tool === undefined) throw httpError('BAD_REQUEST', 'tool: give the tool pattern as ?tool=');
    if (!(await vault().delete(c.req.param('name'), agent.id, tool))) {
      throw httpError(
        'NOT_FOUND',
        `agent ${agent.name} has no credential ${c.req.param('name')} for ${tool}`,
      );
    }
    return c.json({ deleted: true });
  });
}
