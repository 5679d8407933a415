import { messages } from './anthropic-wire.js';
import type { SseEvent } from './sse.js';
import type { ClientSide } from './stream-relay.js';
import { isRecord, type Json, TO_ANTHROPIC_STOP } from './translate-parts.js';

function parse(data: string): Json {
  try {
    const value: unknown = JSON.parse(data);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

const event = (type: string, body: Json): SseEvent => ({
  event: type,
  data: JSON.stringify({ type, ...body }),
});

/**
 * An OpenAI chat.completion.chunk stream as Anthropic Messages events:
 * message_start on the first chunk (input tokens as the gateway estimated
 * them until the provider's usage comes), `content` as a text block,
 * each tool call as a tool_use block (argument fragments as input_json_delta;
 * a call whose fragments arrive while another call's block is open is held
 * and sent whole when the message ends, since Anthropic blocks cannot interleave),
 * and on `[DONE]` a message_delta with the stop reason and the provider's
 * usage, then message_stop. A gateway cut (`oacp` on a chunk) is carried on
 * the message_delta.
 */
export function openAiToAnthropicStream(estimatedInput: number): ClientSide {
  let started = false;
  let next = 0;
  let open: { index: number; tool?: number } | undefined;
  let stop = 'end_turn';
  let oacp: unknown;
  let inputTokens = estimatedInput;
  let outputTokens = 0;
  const closeOpen = (): SseEvent[] => {
    if (open === undefined) return [];
    const index = open.index;
    open = undefined;
    return [event('content_block_stop', { index })];
  };
  const openBlock = (block: Json, tool?: number): SseEvent[] => {
    const events = closeOpen();
    open = { index: next++, ...(tool === undefined ? {} : { tool }) };
    events.push(event('content_block_start', { index: open.index, content_block: block }));
    return events;
  };
  // Tool calls that arrived while another call's block was open, by index: sent whole at the end.
  const pending = new Map<number, { id: unknown; name: unknown; args: string }>();
  const streamed = new Set<number>();
  const flush = (): SseEvent[] => {
    const events = closeOpen();
    for (const [, call] of [...pending].sort(([a], [b]) => a - b)) {
      const index = next++;
      events.push(
        event('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
        }),
      );
      if (call.args !== '')
        events.push(
          event('content_block_delta', {
            index,
            delta: { type: 'input_json_delta', partial_json: call.args },
          }),
        );
      events.push(event('content_block_stop', { index }));
    }
    pending.clear();
    return events;
  };
  const translate = (raw: SseEvent): SseEvent[] => {
    if (raw.data === '[DONE]') {
      return [
        ...flush(),
        event('message_delta', {
          delta: { stop_reason: stop, stop_sequence: null },
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
          ...(oacp === undefined ? {} : { oacp }),
        }),
        event('message_stop', {}),
      ];
    }
    const data = parse(raw.data);
    if (isRecord(data.error)) {
      return [
        event('error', {
          error: { type: 'api_error', message: String(data.error.message ?? 'provider error') },
        }),
      ];
    }
    const events: SseEvent[] = [];
    if (!started) {
      started = true;
      const id = typeof data.id === 'string' ? data.id : 'oacp';
      events.push(
        event('message_start', {
          message: {
            id: `msg_${id}`,
            type: 'message',
            role: 'assistant',
            model: data.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: estimatedInput, output_tokens: 0 },
          },
        }),
      );
    }
    if (isRecord(data.usage)) {
      if (typeof data.usage.prompt_tokens === 'number') inputTokens = data.usage.prompt_tokens;
      if (typeof data.usage.completion_tokens === 'number') outputTokens = data.usage.completion_tokens;
    }
    if (data.oacp !== undefined) oacp = data.oacp;
    const choice = Array.isArray(data.choices) && isRecord(data.choices[0]) ? data.choices[0] : {};
    const delta = isRecord(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (open === undefined || open.tool !== undefined)
        events.push(...openBlock({ type: 'text', text: '' }));
      events.push(
        event('content_block_delta', {
          index: open?.index,
          delta: { type: 'text_delta', text: delta.content },
        }),
      );
    }
    for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isRecord) : []) {
      const fn = isRecord(call.function) ? call.function : {};
      const tool = typeof call.index === 'number' ? call.index : 0;
      const fragment = typeof fn.arguments === 'string' ? fn.arguments : '';
      const held = pending.get(tool);
      if (open?.tool !== tool && (held !== undefined || streamed.has(tool) || open?.tool !== undefined)) {
        // Another call's block is open (Anthropic blocks cannot interleave): this one waits, whole.
        if (held === undefined)
          pending.set(tool, { id: call.id ?? `toolu_oacp_${tool}`, name: fn.name ?? '', args: fragment });
        else held.args += fragment;
        continue;
      }
      if (open?.tool !== tool) {
        streamed.add(tool);
        events.push(
          ...openBlock(
            { type: 'tool_use', id: call.id ?? `toolu_oacp_${tool}`, name: fn.name ?? '', input: {} },
            tool,
          ),
        );
      }
      if (fragment !== '')
        events.push(
          event('content_block_delta', {
            index: open?.index,
            delta: { type: 'input_json_delta', partial_json: fragment },
          }),
        );
    }
    if (typeof choice.finish_reason === 'string') {
      stop = TO_ANTHROPIC_STOP[choice.finish_reason] ?? 'end_turn';
      events.push(...flush());
    }
    return events;
  };
  return { dialect: messages, translate };
}
