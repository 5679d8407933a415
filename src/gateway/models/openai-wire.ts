import { randomUUID } from 'node:crypto';
import { type Dialect, reportedModel, reportedTokens, type StreamStep, type TokenUsage } from './dialect.js';
import { reportedTier } from './service-tier.js';

/**
 * A usage report, or undefined when it is not whole: `generates` (chat) needs both counts, as a
 * report without its output count would charge an answer of up to the cap nothing for it;
 * embeddings have no output.
 */
function openaiUsage(value: unknown, generates: boolean): TokenUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const usage = value as Record<string, unknown>;
  const input = reportedTokens(usage.prompt_tokens);
  const output = reportedTokens(generates ? usage.completion_tokens : (usage.completion_tokens ?? 0));
  if (input === undefined || output === undefined) return undefined;
  return { inputTokens: input, outputTokens: output };
}

/** The strings a provider generates and bills as output in one delta, whatever the kind. */
const GENERATED = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;

/**
 * The generated text of one chunk's delta: its content, and also a refusal, reasoning text and
 * tool-call names and arguments (the legacy `function_call` too), which are output the provider
 * bills as well. Counting `content` alone let a provider that ignores max_tokens stream tool-call
 * arguments past the cap uncut, and charged 0 output for them when it reported no usage.
 */
function generatedText(delta: unknown): string {
  if (typeof delta !== 'object' || delta === null) return '';
  const record = delta as Record<string, unknown>;
  let text = '';
  for (const field of GENERATED) if (typeof record[field] === 'string') text += record[field];
  const calls = [...(Array.isArray(record.tool_calls) ? record.tool_calls : []), record.function_call];
  for (const call of calls) {
    const fn = (call as { function?: unknown } | null)?.function ?? call;
    if (typeof fn !== 'object' || fn === null) continue;
    const { name, arguments: args } = fn as { name?: unknown; arguments?: unknown };
    if (typeof name === 'string') text += name;
    if (typeof args === 'string') text += args;
  }
  const transcript = (record.audio as { transcript?: unknown } | null | undefined)?.transcript;
  if (typeof transcript === 'string') text += transcript;
  return text;
}

function servedModel(json: unknown): string | undefined {
  return reportedModel((json as { model?: unknown } | null)?.model);
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

function openaiError(status: number, code: string, message: string): Record<string, unknown> {
  return { error: { message, type: ERROR_TYPES[status] ?? 'api_error', code, param: null } };
}

/** OpenAI Chat Completions (`POST /v1/chat/completions`), streaming included. */
export const chatCompletions: Dialect = {
  endpoint: 'chat.completions',
  kind: 'openai',
  path: '/chat/completions',
  generates: true,
  read(body) {
    return {
      model: body.model,
      stream: body.stream === true,
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      choices: body.n ?? undefined,
    };
  },
  prepare(body, model, maxTokens) {
    const prepared: Record<string, unknown> = { ...body, model };
    if (maxTokens !== undefined) {
      // Whichever caps the client used are clamped (both, when it sent both: a provider may read
      // either); a client that set none gets max_completion_tokens.
      if (body.max_tokens !== undefined) prepared.max_tokens = maxTokens;
      if (body.max_completion_tokens !== undefined || body.max_tokens === undefined)
        prepared.max_completion_tokens = maxTokens;
    }
    if (body.stream === true) {
      const options =
        typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
      prepared.stream_options = { ...options, include_usage: true };
    }
    return prepared;
  },
  answer(json) {
    const usage = openaiUsage((json as { usage?: unknown } | null)?.usage, true);
    const served = servedModel(json);
    const tier = reportedTier((json as { service_tier?: unknown } | null)?.service_tier);
    return {
      ...(usage === undefined ? {} : { usage }),
      ...(served === undefined ? {} : { served }),
      ...(tier === undefined ? {} : { tier }),
    };
  },
  step(event): StreamStep {
    if (event.data === '[DONE]') return {};
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      return {};
    }
    const choices = (chunk as { choices?: unknown }).choices;
    let text = '';
    if (Array.isArray(choices)) {
      for (const choice of choices) text += generatedText((choice as { delta?: unknown } | null)?.delta);
    }
    const usage = openaiUsage((chunk as { usage?: unknown }).usage, true);
    const served = servedModel(chunk);
    const tier = reportedTier((chunk as { service_tier?: unknown } | null)?.service_tier);
    return {
      ...(text === '' ? {} : { text }),
      ...(usage === undefined ? {} : { usage }),
      ...(served === undefined ? {} : { served }),
      ...(tier === undefined ? {} : { tier }),
    };
  },
  isEnd: (event) => event.data === '[DONE]',
  cut(reason, model, _openBlocks, usage) {
    const head = {
      id: `chatcmpl-oacp-${randomUUID()}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
    };
    const last = {
      ...head,
      choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
      oacp: { stopped: 'budget', reason },
    };
    // As `stream_options.include_usage` asks: a last chunk with no choices and the usage.
    const total = {
      ...head,
      choices: [],
      usage: {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    };
    return [{ data: JSON.stringify(last) }, { data: JSON.stringify(total) }, { data: '[DONE]' }];
  },
  error: openaiError,
};

/** OpenAI Embeddings (`POST /v1/embeddings`). */
export const embeddings: Dialect = {
  endpoint: 'embeddings',
  kind: 'openai',
  path: '/embeddings',
  generates: false,
  read: (body) => ({ model: body.model, stream: false, maxTokens: undefined }),
  prepare: (body, model) => ({ ...body, model }),
  answer(json) {
    // Through the same check as a chat answer's counts: a negative, fractional or absurd count is not believed.
    const usage = openaiUsage((json as { usage?: unknown } | null)?.usage, false);
    const served = servedModel(json);
    return {
      ...(usage === undefined ? {} : { usage: { inputTokens: usage.inputTokens, outputTokens: 0 } }),
      ...(served === undefined ? {} : { served }),
    };
  },
  step: () => ({}),
  isEnd: () => true,
  cut: () => [],
  error: openaiError,
};
