import { OacpError, oacpCodeOf } from '../../core/errors.js';
import { type AgentRecord, descendantsOf, LIFECYCLE } from '../runtime/agent-directory.js';
import type { AgentProgram } from '../runtime/agent-runtime.js';
import { runtimeError } from '../runtime/errors.js';
import { CreateAgentSchema, RunAgentSchema, TRANSITIONS, type Transition } from './api-schemas.js';
import { parseBody } from './env.js';
import { httpError } from './errors.js';
import { forward, hopsOf, MAX_HOPS } from './forward.js';
import { type Route, route, scope, scopeOrSelf } from './route.js';
import type { GatewayServices } from './services.js';
import { agentView } from './views.js';

export function programOf(agent: AgentRecord): AgentProgram {
  return {
    did: agent.id,
    name: agent.name,
    manifest: agent.manifest,
    attributes: agent.attributes,
    code: agent.code,
  };
}

export async function findAgent(services: GatewayServices, ref: string): Promise<AgentRecord> {
  const agent = await services.agents.get(ref);
  if (agent === undefined) throw httpError('NOT_FOUND', `no agent "${ref}"`);
  return agent;
}

/** Agents: create from a manifest, read, list, lifecycle transitions, run code. */
export function agentRoutes(services: GatewayServices): Route[] {
  const { agents, runtime } = services;
  return [
    route('POST', '/v1/agents', scope('agents:write'), async (c) => {
      const body = await parseBody(c, CreateAgentSchema);
      const agent = await agents.create({
        name: body.name,
        manifest: body.manifest,
        ...(body.code === undefined ? {} : { code: body.code }),
        ...(body.attributes === undefined ? {} : { attributes: body.attributes }),
        ...(body.parent === undefined ? {} : { parent: body.parent }),
      });
      services.logger.info('agent created', { agent: agent.name, id: agent.id });
      return c.json(agentView(agent, runtime), 201);
    }),

    route('GET', '/v1/agents', scope('agents:read'), async (c) =>
      c.json({ agents: (await agents.list()).map((agent) => agentView(agent, runtime)) }),
    ),

    route('GET', '/v1/agents/:id', scopeOrSelf('agents:read'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      return c.json(agentView(agent, runtime));
    }),

    route(
      'POST',
      '/v1/agents/:id/:transition{start|suspend|resume|retire}',
      scope('agents:write'),
      async (c) => {
        const transition = c.req.param('transition') as Transition;
        if (!TRANSITIONS.includes(transition)) throw httpError('NOT_FOUND', `no transition ${transition}`);
        const agent = await findAgent(services, c.req.param('id') ?? '');
        const rule = LIFECYCLE[transition];
        if (!rule.from.includes(agent.state)) {
          throw new OacpError(
            'AGENT_ILLEGAL_TRANSITION',
            `cannot ${transition} agent ${agent.name}: it is ${agent.state} (allowed from ${rule.from.join(', ')})`,
          );
        }
        if (services.cluster !== undefined) {
          // In a cluster the owner node runs the sandbox: record the change, stop any local one, announce it.
          const next = await agents.transition(agent.id, transition);
          if (transition !== 'start' && transition !== 'resume') {
            await runtime.stop(agent.id);
            for (const descendant of descendantsOf(await agents.list(), agent.id))
              await runtime.stop(descendant.id);
          }
          await services.cluster.changed(agent.id);
          services.logger.info(`agent ${transition}`, { agent: agent.name });
          return c.json(agentView(next, runtime));
        }
        if (transition === 'start' || transition === 'resume') {
          // The sandbox first: if the global policies refuse it, the agent keeps its state.
          await runtime.start(programOf(agent), c.get('span'));
          try {
            const next = await agents.transition(agent.id, transition);
            return c.json(agentView(next, runtime));
          } catch (error) {
            await runtime.stop(agent.id);
            throw error;
          }
        }
        const next = await agents.transition(agent.id, transition);
        await runtime.stop(agent.id);
        if (transition === 'retire') {
          // The directory retired the descendants with it; their sandboxes stop too.
          for (const descendant of descendantsOf(await agents.list(), agent.id)) {
            await runtime.stop(descendant.id);
          }
        }
        services.logger.info(`agent ${transition}`, { agent: agent.name });
        return c.json(agentView(next, runtime));
      },
    ),

    route('POST', '/v1/agents/:id/run', scopeOrSelf('agents:write'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      // A fresh request goes to the owner; a forwarded one is answered here (or follows a migration once more).
      const hops = hopsOf(c.req.raw);
      const forwarded = hops > 0;
      const owner =
        services.cluster !== undefined && !forwarded && runtime.status(agent.id).status === 'stopped'
          ? await services.cluster.ownerElsewhere(agent.id)
          : undefined;
      if (owner !== undefined)
        return forward(c.req.raw, await c.var.readBody(), owner, services.cluster?.fetch ?? fetch);
      const body = await parseBody(c, RunAgentSchema);
      if (agent.state !== 'running') {
        throw runtimeError(
          'RUNTIME_AGENT_NOT_RUNNING',
          `agent ${agent.name} is ${agent.state}; start it first`,
        );
      }
      const cluster = services.cluster;
      // Just placed here (a migration, a re-placement): answer once the sandbox is up.
      await cluster?.awaitStarted(agent.id);
      const request = {
        ...(body.code === undefined ? {} : { code: body.code }),
        input: body.input ?? null,
        parent: c.get('span'),
      };
      let result: Awaited<ReturnType<typeof runtime.run>>;
      try {
        result = await runtime.run(agent.id, request);
      } catch (error) {
        // It moved while this request waited, or is between owners (a lapsed lease being re-placed,
        // a new owner that has not heard of its placement or is still starting it): it never ran,
        // so it runs once where it is placed next. A request at its last hop waits here too, and
        // is never forwarded again.
        if (cluster === undefined || oacpCodeOf(error) !== 'RUNTIME_AGENT_NOT_RUNNING') throw error;
        const where = await cluster.awaitOwner(agent.id, hops < MAX_HOPS);
        if (where !== 'here') return forward(c.req.raw, await c.var.readBody(), where, cluster.fetch);
        result = await runtime.run(agent.id, request);
      }
      return c.json({
        value: result.value,
        logs: result.logs,
        usage: result.usage,
        receipt: result.receipt,
        toolCalls: result.toolCalls,
      });
    }),

    route('GET', '/v1/agents/:id/quota', scopeOrSelf('agents:read'), async (c) => {
      const agent = await findAgent(services, c.req.param('id') ?? '');
      const usage = await services.quotas.usage(agent.id, agent.manifest);
      return c.json({ agent: agent.id, ...usage });
    }),
  ];
}
