import { PutContextSchema } from './api-schemas.js';
import type { Principal } from './auth.js';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { type Route, route, scopeOrSelf } from './route.js';
import { findAgent, programOf } from './routes-agents.js';
import type { GatewayServices } from './services.js';

const KEY = /^[A-Za-z0-9._:/-]{1,256}$/;

function actorOf(principal: Principal): string {
  return principal.kind === 'agent' ? principal.agent.id : `apikey:${principal.keyId}`;
}

function contextKey(raw: string | undefined): string {
  if (raw === undefined || !KEY.test(raw))
    throw httpError('BAD_REQUEST', 'a context key is 1-256 of letters, digits and . _ : / -');
  return raw;
}

/** An agent's context (its vault partition), read and written by the agent itself or an API key with scope. */
export function contextRoutes(services: GatewayServices): Route[] {
  return [
    route('GET', '/v1/agents/:id/context/:key', scopeOrSelf('context:read'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const principal = c.get('principal');
      const name = contextKey(c.req.param('key'));
      services.runtime.checkContext(programOf(agent), 'context/read', name, principal.kind === 'agent');
      services.metrics.contextOperations.inc({ operation: 'get', agent: agent.name });
      const value = await services.context.get(agent.id, name, actorOf(principal));
      if (value === undefined)
        throw httpError('NOT_FOUND', `agent ${agent.name} has no context key "${name}"`);
      return c.json({ key: name, value });
    }),

    route('PUT', '/v1/agents/:id/context/:key', scopeOrSelf('context:write'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const principal = c.get('principal');
      const name = contextKey(c.req.param('key'));
      const body = await parseBody(c, PutContextSchema);
      services.runtime.checkContext(programOf(agent), 'context/write', name, principal.kind === 'agent');
      services.metrics.contextOperations.inc({ operation: 'put', agent: agent.name });
      await services.context.put(agent.id, name, body.value ?? null, actorOf(principal));
      return c.json({ key: name, value: body.value ?? null });
    }),
  ];
}
