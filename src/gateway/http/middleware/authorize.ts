import type { MiddlewareHandler } from 'hono';
import { type ApiScope, scopeGranted } from '../../apikeys/scopes.js';
import type { AgentDirectory } from '../../runtime/agent-directory.js';
import type { Principal } from '../auth.js';
import type { GatewayContext, GatewayEnv } from '../env.js';
import { httpError } from '../errors.js';
import type { Access, RefusalRecorder } from '../route.js';

/**
 * The route's declared access, checked against the authenticated principal
 * before the handler runs (and before the body is read). An agent named by
 * `:id` (`path` under `/v1/agents/:id`) is looked up only for a signed request
 * or a key bound to an agent, to compare it with the agent acting: an agent
 * key reaches its own agent's resources only, whatever scopes it holds.
 * A refusal is told to `refused` first (the caller is authenticated by now).
 */
export function authorize(
  access: Access,
  agents: AgentDirectory,
  path = '',
  refused?: RefusalRecorder,
): MiddlewareHandler<GatewayEnv> {
  const namesAgent = path === '/v1/agents/:id' || path.startsWith('/v1/agents/:id/');
  return async function authorize(c, next) {
    try {
      await check(c);
    } catch (error) {
      await refused?.(c, error).catch(() => undefined);
      throw error;
    }
    await next();
  };

  async function check(c: GatewayContext): Promise<void> {
    if (access.kind !== 'public') {
      const principal = c.get('principal');
      if (principal.kind === 'api-key') {
        requireKeyScope(principal, access.scope);
        if (namesAgent && principal.agentId !== undefined) {
          const target = await agents.get(c.req.param('id') ?? '');
          if (target?.id !== principal.agentId) {
            throw httpError(
              'FORBIDDEN',
              `API key ${principal.keyId} is bound to agent ${principal.agentId}: it acts only on that agent's resources`,
            );
          }
        }
        if (access.kind === 'agent-key' && principal.agentId === undefined) {
          throw httpError(
            'FORBIDDEN',
            `API key ${principal.keyId} is an operator's key: this route is called as an agent, with a key bound to it (scope ${access.scope}) or a signed request`,
          );
        }
      } else if (access.kind === 'scope') {
        throw httpError('FORBIDDEN', `this operation needs an API key with scope ${access.scope}`);
      } else if (access.kind === 'scope-or-self') {
        const ref = c.req.param('id') ?? '';
        const target = await agents.get(ref);
        if (target?.id !== principal.agent.id) {
          throw httpError('FORBIDDEN', `agent ${principal.agent.name} may act only as itself`);
        }
      }
    }
  }
}

function requireKeyScope(principal: Extract<Principal, { kind: 'api-key' }>, scope: ApiScope): void {
  if (!scopeGranted(principal.scopes, scope)) {
    throw httpError('FORBIDDEN', `API key ${principal.keyId} lacks scope ${scope}`);
  }
}
