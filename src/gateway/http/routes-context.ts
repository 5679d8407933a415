import type { Hono } from 'hono';
import { PutContextSchema } from './api-schemas.js';
import { type Principal, requireScopeOrSelf } from './auth.js';
import { type GatewayEnv, parseBody } from './env.js';
import { httpError } from './errors.js';
import { findAgent, programOf } from './routes-agents.js';
import type { GatewayServices } from './services.js';

const KEY = /^[A-Za-z0-9._:/-]{1,256}$/;

function actorOf(principal: Principal): string {
  return principal.kind === 'agent' ? principal.agent.id : `apikey:${principal.keyId}`;
}

/** An agent's context (its vault partition), read and written by the agent itself or an API key with scope. */
export function contextRoutes(app: Hono<GatewayEnv>, services: GatewayServices): void {
  const key = (raw: string) => {
    if (!KEY.test(raw))
      throw httpError('BAD_REQUEST', 'a context key is 1-256 of letters, digits and . _ : / -');
    return raw;
  };

  app.get('/v1/agents/:id/context/:key', async (c) => {
    const agent = await findAgent(services, c.req.param('id'));
    const principal = c.get('principal');
    requireScopeOrSelf(principal, 'context:read', agent);
    const name = key(c.req.param('key'));
    services.runtime.checkContext(programOf(agent), 'context/read', name, principal.kind === 'agent');
    services.metrics.contextOperations.inc({ operation: 'get', agent: agent.name });
    const value = await services.context.get(agent.id, name, actorOf(principal));
    if (value === undefined) throw httpError('NOT_FOUND', `agent ${agent.name} has no context key "${name}"`);
    return c.json({ key: name, value });
  });

  app.put('/v1/agents/:id/context/:key', async (c) => {
    const agent = await findAgent(services, c.req.param('id'));
    const principal = c.get('principal');
    requireScopeOrSelf(principal, 'context:write', agent);
    const name = key(c.req.param('key'));
    const body = parseBody(c, PutContextSchema);
    services.runtime.checkContext(programOf(agent), 'context/write', name, principal.kind === 'agent');
    services.metrics.contextOperations.inc({ operation: 'put', agent: agent.name });
    await services.context.put(agent.id, name, body.value ?? null, actorOf(principal));
    return c.json({ key: name, value: body.value ?? null });
  });
}
