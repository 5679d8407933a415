import type { Span } from '@opentelemetry/api';
import type { AgentDirectory } from '../runtime/agent-directory.js';
import type { CallerAgent } from '../runtime/caller.js';
import { RuntimeError } from '../runtime/errors.js';
import { modelCallerFor } from './caller.js';
import type { ModelGateway } from './model-gateway.js';
import { chatCompletions } from './openai-wire.js';

export type SandboxChat = (
  agent: CallerAgent,
  request: Readonly<Record<string, unknown>>,
  parent: Span | undefined,
) => Promise<unknown>;

/**
 * `oacp.models.chat(request)` for standard-tier agents: the request (OpenAI
 * Chat Completions format) goes through `ModelGateway.call`, the very path of
 * `/v1/chat/completions` (manifest allowlist and Cedar `models/call`, the
 * per-request cap, the lineage's budgets, retries and failover, the receipt),
 * in process. The guest gets the completion or an error naming the refusal and
 * its receipt; it never sees a provider key.
 */
export function sandboxChat(
  gateway: ModelGateway,
  agents: AgentDirectory,
  signed: boolean,
  /** The agent's call rate (api_calls_per_hour), as for its tool calls: a guest cannot flood the log. */
  admit: (agent: CallerAgent) => Promise<void>,
): SandboxChat {
  return async (agent, request, parent) => {
    await admit(agent);
    if (request.stream !== undefined && request.stream !== false) {
      throw new RuntimeError(
        'RUNTIME_MODEL_FAILED',
        'oacp.models.chat does not stream: leave `stream` out of the request',
      );
    }
    const caller = await modelCallerFor(agents, agent.did, signed);
    if (caller === undefined) {
      throw new RuntimeError('RUNTIME_MODEL_FAILED', `agent ${agent.name} does not exist or is retired`);
    }
    const answer = await gateway.call(chatCompletions, caller, request, {
      ...(parent === undefined ? {} : { parent }),
    });
    if (answer.kind !== 'json') {
      // Not reached (stream is refused above); a stream left unread would never settle, so fail loudly.
      throw new RuntimeError('RUNTIME_MODEL_FAILED', 'the model gateway answered with a stream');
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const receipt = answer.headers['oacp-receipt'];
    const message = `model call refused (HTTP ${answer.status}): ${errorMessage(answer.body)}${
      receipt === undefined ? '' : ` (receipt ${receipt})`
    }`;
    if (answer.status === 429) {
      const retryAfter = Number(answer.headers['retry-after']);
      throw new RuntimeError('RUNTIME_QUOTA_EXCEEDED', message, {
        quota: answer.headers['oacp-quota'] ?? 'models',
        ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    }
    throw new RuntimeError(answer.status === 403 ? 'RUNTIME_POLICY_DENIED' : 'RUNTIME_MODEL_FAILED', message);
  };
}

/** The message of an OpenAI-format error body, bounded. */
function errorMessage(body: unknown): string {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === 'string' ? error.message.slice(0, 1024) : 'no reason given';
}
