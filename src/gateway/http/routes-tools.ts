import { createHash } from 'node:crypto';
import { parseBoundedJson } from '../../core/bounded-json.js';
import { describeError } from '../../core/errors.js';
import type { AgentRecord } from '../runtime/agent-directory.js';
import { runtimeError } from '../runtime/errors.js';
import { recordRefusedToolCall } from '../runtime/replayed-call.js';
import { CallToolSchema } from './api-schemas.js';
import { type GatewayContext, MAX_BODY_DEPTH, parseBody } from './env.js';
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
      const tool = c.req.param('name') ?? '';
      // An agent's call refused before the pipeline is still its call: recorded, then refused.
      const { body, agent } = await (principal.kind === 'agent'
        ? admitted(c, principal.agent).catch(async (error: unknown) => {
            await recordRefusedToolCall(services.tools, {
              agent: principal.agent,
              tool,
              arguments: await unreadArguments(c),
              reason: describeError(error),
            });
            throw error;
          })
        : admitted(c, undefined));
      const request = c.req.raw;
      const outcome = await services.tools.call({
        tool,
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

  /** The call's body and the agent it is made as, or the refusal before the pipeline. */
  async function admitted(c: GatewayContext, caller: AgentRecord | undefined) {
    const principal = c.get('principal');
    const body = await parseBody(c, CallToolSchema);
    let agent = caller;
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
    return { body, agent };
  }
}

/**
 * The arguments of a call refused before they could be taken from its body: the body's own
 * `arguments` when it is a JSON object that has them, else the body named by its SHA-256 and
 * length (`{"oacp/unread": …}`, as the MCP bridge names a message it could not parse), or
 * `{"oacp/unread": {"cut": true}}` for a body refused while it was read.
 */
async function unreadArguments(c: GatewayContext): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await c.var.readBody();
  } catch {
    return { 'oacp/unread': { cut: true } };
  }
  const parsed = parseBoundedJson(Buffer.from(bytes).toString('utf8'), MAX_BODY_DEPTH, 'the request body');
  const value: unknown = parsed.ok ? parsed.value : undefined;
  if (typeof value === 'object' && value !== null && 'arguments' in value) return value.arguments;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { 'oacp/unread': { sha256, bytes: bytes.length } };
}
