import { chatCompletions } from './openai-wire.js';
import type { SseEvent } from './sse.js';
import type { ClientSide } from './stream-relay.js';
import { anthropicPromptTokens, isRecord, type Json, TO_OPENAI_FINISH } from './translate-parts.js';

function parse(data: string): Json {
  try {
    const value: unknown = JSON.parse(data);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

/**
 * An Anthropic Messages event stream as OpenAI chat.completion.chunk events:
 * text deltas as `content`, tool_use blocks as `tool_calls` (their
 * input_json_delta as argument fragments), the stop reason as the last
 * choice's `finish_reason`, then a usage chunk (as `include_usage` asks) and
 * `[DONE]`. A gateway cut (`oacp` on the message_delta) is carried on the
 * last choice chunk.
 */
export function anthropicToOpenAiStream(created: number): ClientSide {
  let id = 'chatcmpl-oacp';
  let model = '';
  let stop = 'stop';
  let oacp: unknown;
  let inputTokens = 0;
  let outputTokens = 0;
  const toolOf = new Map<number, number>();
  const chunk = (choice: Json | undefined, extra: Json = {}): SseEvent => ({
    data: JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: choice === undefined ? [] : [{ index: 0, logprobs: null, finish_reason: null, ...choice }],
      ...extra,
    }),
  });
  const translate = (event: SseEvent): SseEvent[] => {
    const data = parse(event.data);
    switch (data.type) {
      case 'message_start': {
        const message = isRecord(data.message) ? data.message : {};
        if (typeof message.id === 'string') id = `chatcmpl-${message.id}`;
        if (typeof message.model === 'string') model = message.model;
        const usage = isRecord(message.usage) ? message.usage : {};
        inputTokens = Math.max(inputTokens, anthropicPromptTokens(usage) ?? 0);
        return [chunk({ delta: { role: 'assistant', content: '' } })];
      }
      case 'content_block_start': {
        const block = isRecord(data.content_block) ? data.content_block : {};
        if (block.type === 'tool_use' && typeof data.index === 'number') {
          const index = toolOf.size;
          toolOf.set(data.index, index);
          const call = {
            index,
            id: block.id,
            type: 'function',
            function: { name: block.name, arguments: '' },
          };
          return [chunk({ delta: { tool_calls: [call] } })];
        }
        return block.type === 'text' && typeof block.text === 'string' && block.text !== ''
          ? [chunk({ delta: { content: block.text } })]
          : [];
      }
      case 'content_block_delta': {
        const delta = isRecord(data.delta) ? data.delta : {};
        if (delta.type === 'text_delta' && typeof delta.text === 'string')
          return [chunk({ delta: { content: delta.text } })];
        const index = typeof data.index === 'number' ? toolOf.get(data.index) : undefined;
        if (
          delta.type === 'input_json_delta' &&
          typeof delta.partial_json === 'string' &&
          index !== undefined
        )
          return [chunk({ delta: { tool_calls: [{ index, function: { arguments: delta.partial_json } }] } })];
        return [];
      }
      case 'message_delta': {
        const delta = isRecord(data.delta) ? data.delta : {};
        if (typeof delta.stop_reason === 'string') stop = TO_OPENAI_FINISH[delta.stop_reason] ?? 'stop';
        const usage = isRecord(data.usage) ? data.usage : {};
        if (typeof usage.output_tokens === 'number') outputTokens = usage.output_tokens;
        // As the budget reads it (stream-relay.ts): a later count never lowers the input.
        inputTokens = Math.max(inputTokens, anthropicPromptTokens(usage) ?? 0);
        if (data.oacp !== undefined) oacp = data.oacp;
        return [];
      }
      case 'message_stop':
        return [
          chunk({ delta: {}, finish_reason: stop }, oacp === undefined ? {} : { oacp }),
          chunk(undefined, {
            usage: {
              prompt_tokens: inputTokens,
              completion_tokens: outputTokens,
              total_tokens: inputTokens + outputTokens,
            },
          }),
          { data: '[DONE]' },
        ];
      case 'error': {
        const error = isRecord(data.error) ? data.error : {};
        return [
          {
            data: JSON.stringify({
              error: { message: String(error.message ?? 'provider error'), type: error.type ?? 'api_error' },
            }),
          },
        ];
      }
      default:
        // ping, content_block_stop, thinking: nothing to say in the OpenAI format.
        return [];
    }
  };
  return { dialect: chatCompletions, translate };
}
