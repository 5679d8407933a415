import { runtimeError } from '../runtime/errors.js';
import { CallToolSchema } from './api-schemas.js';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { type Route, route, scopeOrAgent } from './route.js';
import { findAgent, programOf } from './routes-agents.js';
import type { GatewayServices } from './services.js';
import { toolView } from './views.js';

/** Tools: list, and call as an agent (the same checks, quotas and receipts as calls from agent code). */
export function toolRoutes(services: GatewayServices): Route[] {
  return [
    route('GET', '/v1/tools', scopeOrAgent('tools:call'), (c) =>
      c.json({ tools: services.registry.list().map(toolView) }),
    ),

    route('POST', '/v1/tools/:name/call', scopeOrAgent('tools:call'), async (c) => {
      const principal = c.get('principal');
      const body = await parseBody(c, CallToolSchema);
      let agent = principal.kind === 'agent' ? principal.agent : undefined;
      if (principal.kind === 'agent') {
        if (body.agent !== undefined && body.agent !== agent?.id && body.agent !== agent?.name) {
          throw httpError('FORBIDDEN', `agent ${principal.agent.name} may call tools only as itself`);
        }
      } else {
        if (body.agent === undefined)
          throw httpError('BAD_REQUEST', 'agent: required when calling with an API key');
        agent = await findAgent(services, body.agent);
        // A key bound to an agent calls as that agent only, as its signed request would.
        if (principal.agentId !== undefined && agent.id !== principal.agentId) {
          throw httpError(
            'FORBIDDEN',
            `API key ${principal.keyId} is bound to agent ${principal.agentId}: it calls tools only as that agent`,
          );
        }
      }
      if (agent === undefined) throw httpError('BAD_REQUEST', 'agent: required');
      if (agent.state === 'retired' || agent.state === 'suspended') {
        throw runtimeError(
          'RUNTIME_AGENT_NOT_RUNNING',
          `agent ${agent.name} is ${agent.state}; it makes no calls`,
        );
      }
      const request = c.req.raw;
      const outcome = await services.tools.call({
        tool: c.req.param('name') ?? '',
        arguments: body.arguments ?? {},
        agent: programOf(agent),
        channel: principal.kind === 'agent' ? 'signed-request' : 'api-key',
        ...(principal.kind === 'api-key' ? { apiKey: { id: principal.keyId } } : {}),
        parent: c.get('span'),
        // Made on first use (an AbortController per request otherwise); one made after the client
        // left is aborted already (@hono/node-server keeps the reason), so a tool still sees it.
        get signal() {
          return request.signal;
        },
      });
      return c.json({ result: outcome.result, isError: outcome.isError, receipt: outcome.receipt });
    }),
  ];
}
