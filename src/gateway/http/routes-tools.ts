import { createHash } from 'node:crypto';
import { parseBoundedJson } from '../../core/bounded-json.js';
import { describeError } from '../../core/errors.js';
import type { AgentRecord } from '../runtime/agent-directory.js';
import type { CallerAgent } from '../runtime/caller.js';
import { runtimeError } from '../runtime/errors.js';
import { agentCaller, apiKeyCaller, recordRefusedToolCall } from '../runtime/replayed-call.js';
import { CallToolSchema } from './api-schemas.js';
import { sendWhole } from './direct-response.js';
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

    route(
      'POST',
      '/v1/tools/:name/call',
      scopeOrAgent('tools:call'),
      async (c) => {
        const principal = c.get('principal');
        const tool = c.req.param('name') ?? '';
        // A call refused before the pipeline is still its caller's call: recorded, then refused.
        const { body, agent } = await admitted(
          c,
          principal.kind === 'agent' ? principal.agent : undefined,
        ).catch(async (error: unknown) => {
          // A failure to record never changes the answer.
          await recordRefusal(c, error).catch(() => undefined);
          throw error;
        });
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
        // Written straight to the socket (no web Response and its body stream read back): the
        // answer of every attested call, the gateway's most frequent one.
        return sendWhole(
          c,
          200,
          { 'content-type': 'application/json' },
          JSON.stringify({ result: outcome.result, isError: outcome.isError, receipt: outcome.receipt }),
        );
      },
      // A key without the scope is refused before the handler: recorded the same way.
      recordRefusal,
    ),
  ];

  /**
   * An authenticated caller's tool call refused before the pipeline, recorded as that call
   * refused at the identity step: under the signing agent; for an API key, under the agent it
   * is bound to, else the agent its body names (when there is one), else the key's id.
   */
  async function recordRefusal(c: GatewayContext, error: unknown): Promise<void> {
    const principal = c.get('principal');
    const call = await unreadCall(c);
    let caller: CallerAgent;
    if (principal.kind === 'agent') caller = agentCaller(principal.agent);
    else {
      const ref = principal.agentId ?? call.agent;
      const named = ref === undefined ? undefined : await services.agents.get(ref).catch(() => undefined);
      // A bound key is recorded under its own agent, never under another one its body names.
      const own = principal.agentId === undefined || named?.id === principal.agentId;
      caller = named !== undefined && own ? agentCaller(named) : apiKeyCaller(principal.keyId);
    }
    await recordRefusedToolCall(services.tools, {
      caller,
      channel: principal.kind === 'agent' ? 'signed-request' : 'api-key',
      ...(principal.kind === 'api-key' ? { apiKey: { id: principal.keyId } } : {}),
      tool: c.req.param('name') ?? '',
      arguments: call.arguments,
      reason: describeError(error),
    });
  }

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
 * A call refused before its body was taken: its `arguments` (and the `agent` it names, a string)
 * when the body is a JSON object that has them, else the body named by its SHA-256 and length
 * (`{"oacp/unread": …}`, as the MCP bridge names a message it could not parse), or
 * `{"oacp/unread": {"cut": true}}` for a body refused while it was read.
 */
async function unreadCall(c: GatewayContext): Promise<{ arguments: unknown; agent?: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await c.var.readBody();
  } catch {
    return { arguments: { 'oacp/unread': { cut: true } } };
  }
  const parsed = parseBoundedJson(Buffer.from(bytes).toString('utf8'), MAX_BODY_DEPTH, 'the request body');
  const value: unknown = parsed.ok ? parsed.value : undefined;
  const named =
    typeof value === 'object' && value !== null && 'agent' in value && typeof value.agent === 'string'
      ? { agent: value.agent }
      : {};
  if (typeof value === 'object' && value !== null && 'arguments' in value)
    return { arguments: value.arguments, ...named };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { arguments: { 'oacp/unread': { sha256, bytes: bytes.length } }, ...named };
}
