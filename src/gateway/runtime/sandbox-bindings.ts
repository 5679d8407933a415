import type { Span } from '@opentelemetry/api';
import type { HostBindings } from '../../airlock/wasm/host-bindings.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Logger } from '../observability/logger.js';
import { principalAttributes } from './agent-principal.js';
import type { AgentProcess } from './agent-process.js';
import type { CallerAgent } from './caller.js';
import type { ContextAccess } from './context-access.js';
import { type EgressFetchOptions, egressFetch } from './egress-fetch.js';
import { RuntimeError, runtimeError } from './errors.js';
import type { GatewayPolicy } from './policy/gateway-policy.js';
import type { GatewayQuotas } from './quotas.js';
import type { ToolCaller } from './tool-caller.js';

export interface BindingParts {
  readonly tools: ToolCaller;
  readonly context: ContextAccess;
  readonly quotas: GatewayQuotas;
  readonly metrics: GatewayMetrics;
  readonly globalPolicy: GatewayPolicy;
  readonly coSign: boolean;
  readonly logger: Logger;
  readonly egress?: EgressFetchOptions;
  /** `oacp.models.chat` for the agent's code: the model gateway's pipeline (src/gateway/models/sandbox-chat.ts). */
  readonly modelsChat?: (
    agent: CallerAgent,
    request: Readonly<Record<string, unknown>>,
    parent: Span | undefined,
  ) => Promise<unknown>;
}

/**
 * The only ways out of an agent's sandbox: `oacp.tools.call` (through the
 * ToolCaller, so the same checks, quotas and receipts as any call; the run
 * collects the receipts), `oacp.context.get/put` (its own vault partition),
 * `oacp.log` and `fetch` through the egress gate, each also put to the global
 * policies.
 */
export function sandboxBindings(parts: BindingParts, process: AgentProcess): HostBindings {
  const agent = () => process.program;
  const chat = parts.modelsChat;
  const egress =
    process.program.manifest.capabilities.network.allowlist.length === 0
      ? undefined
      : egressFetch(process.program.manifest, parts.egress);
  return {
    callTool: async (name, args) => {
      const state = process.current;
      try {
        const outcome = await parts.tools.call({
          tool: name,
          arguments: args,
          agent: agent(),
          channel: 'sandbox',
          ...(state?.span === undefined ? {} : { parent: state.span }),
        });
        state?.toolCalls.push({
          logIndex: outcome.receipt.index,
          envelopeDigest: outcome.receipt.envelopeDigest,
        });
        return outcome.result;
      } catch (error) {
        const receipt = error instanceof RuntimeError ? error.details.receipt : undefined;
        if (receipt !== undefined)
          state?.toolCalls.push({ logIndex: receipt.index, envelopeDigest: receipt.envelopeDigest });
        throw error;
      }
    },
    contextGet: async (key) => {
      checkContextAccess(parts, agent(), 'context/read', key);
      parts.metrics.contextOperations.inc({ operation: 'get', agent: agent().name });
      return (await parts.context.get(agent().did, key, agent().did)) ?? null;
    },
    contextPut: async (key, value) => {
      checkContextAccess(parts, agent(), 'context/write', key);
      parts.metrics.contextOperations.inc({ operation: 'put', agent: agent().name });
      await parts.context.put(agent().did, key, value, agent().did);
    },
    ...(chat === undefined ? {} : { modelsChat: (request) => chat(agent(), request, process.current?.span) }),
    log: (entry) =>
      parts.logger.info('agent log', {
        agent: agent().name,
        level: entry.level,
        message: entry.message,
      }),
    ...(egress === undefined
      ? {}
      : {
          fetch: async (request) => {
            const url = new URL(request.url);
            const decision = parts.globalPolicy.decide({
              action: 'network/fetch',
              principal: { id: agent().did, attributes: principalAttributes(agent(), parts.coSign) },
              resource: {
                id: url.hostname,
                attributes: { port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) },
              },
              context: { method: request.method },
            });
            if (decision.effect === 'deny') {
              parts.metrics.security('warning', 'egress_denied');
              throw new Error(`fetch to ${url.origin} denied by global policy: ${decision.reason}`);
            }
            await parts.quotas.admitNetworkRequest(agent(), agent().manifest);
            return egress(request);
          },
        }),
  };
}

/** Context access, by the agent's own code or over HTTP, goes through the global policies. */
export function checkContextAccess(
  parts: Pick<BindingParts, 'globalPolicy' | 'metrics' | 'coSign'>,
  program: CallerAgent,
  action: 'context/read' | 'context/write',
  key: string,
  signed = true,
): void {
  const decision = parts.globalPolicy.decide({
    action,
    principal: { id: program.did, attributes: principalAttributes(program, parts.coSign) },
    resource: { id: `${program.did}/${key}`, attributes: { agent: program.did, key } },
    context: { signed },
  });
  if (decision.effect === 'deny') {
    parts.metrics.security('warning', 'context_denied');
    throw runtimeError('RUNTIME_POLICY_DENIED', `${action} of "${key}" denied: ${decision.reason}`);
  }
}
