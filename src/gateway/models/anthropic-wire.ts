import {
  type Dialect,
  MAX_REPORTED_TOKENS,
  reportedModel,
  reportedTokens,
  type StreamStep,
  type TokenUsage,
  type ToolUses,
} from './dialect.js';
import { reportedTier } from './service-tier.js';

function parse(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Input Anthropic reports apart from `input_tokens`, and bills: what the prompt cache was written and read. */
const CACHED_INPUT = ['cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

/**
 * All the input a usage report says was read: `input_tokens` plus the cache's counts (null or
 * absent when nothing was cached). Settled on `input_tokens` alone, an agent marking its prompt
 * with `cache_control` had its input given back from every reservation. A cache count that is
 * not believed makes the input not reported (the reservation is charged).
 */
function inputOf(usage: Record<string, unknown>): number | undefined {
  let total = reportedTokens(usage.input_tokens);
  for (const field of CACHED_INPUT) {
    if (total === undefined || usage[field] === undefined || usage[field] === null) continue;
    const cached = reportedTokens(usage[field]);
    total = cached === undefined ? undefined : total + cached;
  }
  return total === undefined || total > MAX_REPORTED_TOKENS ? undefined : total;
}

function usageOf(value: unknown): Partial<TokenUsage> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const usage = value as Record<string, unknown>;
  const result: { inputTokens?: number; outputTokens?: number } = {};
  const input = inputOf(usage);
  const output = reportedTokens(usage.output_tokens);
  if (input !== undefined) result.inputTokens = input;
  if (output !== undefined) result.outputTokens = output;
  return Object.keys(result).length === 0 ? undefined : result;
}

/**
 * The server tools' uses a usage report counts (`server_tool_use`): null is Anthropic's way of saying
 * none ran (its Usage always carries the member); absent, or a count not believed, is not reported.
 */
function toolUsesOf(value: unknown): ToolUses | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const counts = (value as Record<string, unknown>).server_tool_use;
  if (counts === null) return { webSearch: 0, webFetch: 0 };
  if (typeof counts !== 'object' || counts === undefined) return undefined;
  const record = counts as Record<string, unknown>;
  const webSearch = reportedTokens(record.web_search_requests);
  const webFetch = reportedTokens(record.web_fetch_requests);
  const uses = {
    ...(webSearch === undefined ? {} : { webSearch }),
    ...(webFetch === undefined ? {} : { webFetch }),
  };
  return Object.keys(uses).length === 0 ? undefined : uses;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

/** Anthropic Messages (`POST /v1/messages`), streaming included. */
export const messages: Dialect = {
  endpoint: 'messages',
  kind: 'anthropic',
  path: '/v1/messages',
  generates: true,
  read: (body) => ({ model: body.model, stream: body.stream === true, maxTokens: body.max_tokens }),
  prepare(body, model, maxTokens) {
    return { ...body, model, ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) };
  },
  answer(json) {
    const record = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
    const usage = usageOf(record.usage);
    const served = reportedModel(record.model);
    const toolUses = usage === undefined ? undefined : toolUsesOf(record.usage);
    const tier = reportedTier((record.usage as { service_tier?: unknown } | null | undefined)?.service_tier);
    // A whole answer reports both counts; without its output count (or with one not believed) it
    // is no report, and the whole reservation is charged, not an answer of up to the cap for nothing.
    return {
      ...(usage?.inputTokens === undefined || usage.outputTokens === undefined
        ? {}
        : { usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens } }),
      ...(served === undefined ? {} : { served }),
      ...(toolUses === undefined ? {} : { toolUses }),
      ...(tier === undefined ? {} : { tier }),
    };
  },
  step(event): StreamStep {
    const data = parse(event.data);
    if (data === undefined) return {};
    if (data.type === 'message_start') {
      const message = (data.message ?? {}) as Record<string, unknown>;
      // Only the input count: the output count here is the opening one (1), before anything was
      // generated; the final one comes in message_delta. Taken as final, a stream whose provider
      // left message_delta's count out was charged 1 output token for an answer of up to the cap.
      const input = usageOf(message.usage)?.inputTokens;
      const served = reportedModel(message.model);
      const toolUses = toolUsesOf(message.usage);
      const tier = reportedTier(
        (message.usage as { service_tier?: unknown } | null | undefined)?.service_tier,
      );
      return {
        ...(input === undefined ? {} : { usage: { inputTokens: input } }),
        ...(served === undefined ? {} : { served }),
        ...(toolUses === undefined ? {} : { toolUses }),
        ...(tier === undefined ? {} : { tier }),
      };
    }
    if (data.type === 'content_block_delta') {
      const delta = (data.delta ?? {}) as Record<string, unknown>;
      // Output the provider bills: text, tool input and extended thinking (a provider streaming
      // thinking past max_tokens was never cut, and charged 0 output when it reported no count).
      const text =
        typeof delta.text === 'string'
          ? delta.text
          : typeof delta.partial_json === 'string'
            ? delta.partial_json
            : typeof delta.thinking === 'string'
              ? delta.thinking
              : '';
      return text === '' ? {} : { text };
    }
    if (data.type === 'message_delta') {
      const usage = usageOf(data.usage);
      const toolUses = toolUsesOf(data.usage);
      return {
        ...(usage === undefined ? {} : { usage }),
        ...(toolUses === undefined ? {} : { toolUses }),
      };
    }
    return {};
  },
  isEnd: (event) => parse(event.data)?.type === 'message_stop',
  block(event) {
    const data = parse(event.data);
    if (typeof data?.index !== 'number') return {};
    if (data.type === 'content_block_start') return { opened: data.index };
    if (data.type === 'content_block_stop') return { closed: data.index };
    return {};
  },
  cut(reason, _model, openBlocks, usage) {
    return [
      ...openBlocks.map((index) => ({
        event: 'content_block_stop',
        data: JSON.stringify({ type: 'content_block_stop', index }),
      })),
      {
        event: 'message_delta',
        data: JSON.stringify({
          type: 'message_delta',
          delta: { stop_reason: 'max_tokens', stop_sequence: null },
          usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
          oacp: { stopped: 'budget', reason },
        }),
      },
      { event: 'message_stop', data: JSON.stringify({ type: 'message_stop' }) },
    ];
  },
  error(status, code, message) {
    return { type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message, code } };
  },
};
