import type { ProviderKind } from './dialect.js';
import {
  anthropicPromptTokens,
  argumentsObject,
  isRecord,
  type Json,
  TO_ANTHROPIC_STOP,
  TO_OPENAI_FINISH,
} from './translate-parts.js';

/** An Anthropic message as an OpenAI chat.completion: text joined, tool_use blocks as tool_calls. */
function toOpenAi(record: Json, now: () => Date): Json {
  const usage = isRecord(record.usage) ? record.usage : {};
  const blocks = Array.isArray(record.content) ? record.content.filter(isRecord) : [];
  const text = blocks
    .filter((block) => block.type === 'text' && typeof block.text === 'string')
    .map((block) => block.text as string)
    .join('');
  const calls = blocks
    .filter((block) => block.type === 'tool_use')
    .map((block) => ({
      id: String(block.id),
      type: 'function',
      function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) },
    }));
  const input = anthropicPromptTokens(usage) ?? 0;
  const output = Number(usage.output_tokens ?? 0);
  return {
    id: typeof record.id === 'string' ? record.id : 'chatcmpl-oacp',
    object: 'chat.completion',
    created: Math.floor(now().getTime() / 1000),
    model: record.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          refusal: null,
          ...(calls.length === 0 ? {} : { tool_calls: calls }),
        },
        finish_reason: TO_OPENAI_FINISH[String(record.stop_reason)] ?? 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
  };
}

/** An OpenAI chat.completion as an Anthropic message: the first choice, tool_calls as tool_use blocks. */
function toAnthropic(record: Json): Json {
  const usage = isRecord(record.usage) ? record.usage : {};
  const choice = Array.isArray(record.choices) && isRecord(record.choices[0]) ? record.choices[0] : {};
  const message = isRecord(choice.message) ? choice.message : {};
  const content: Json[] = [];
  if (typeof message.content === 'string' && message.content !== '')
    content.push({ type: 'text', text: message.content });
  for (const call of Array.isArray(message.tool_calls) ? message.tool_calls.filter(isRecord) : []) {
    const fn = isRecord(call.function) ? call.function : {};
    content.push({
      type: 'tool_use',
      id: String(call.id),
      name: String(fn.name),
      input: argumentsOf(fn.arguments),
    });
  }
  if (content.length === 0) content.push({ type: 'text', text: '' });
  return {
    id: typeof record.id === 'string' ? record.id : 'msg_oacp',
    type: 'message',
    role: 'assistant',
    model: record.model,
    content,
    stop_reason: TO_ANTHROPIC_STOP[String(choice.finish_reason)] ?? 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: Number(usage.prompt_tokens ?? 0),
      output_tokens: Number(usage.completion_tokens ?? 0),
    },
  };
}

/** A model's tool arguments as an object; text that is not a JSON object (or nests too deep) is kept under `_raw`, not lost. */
export function argumentsOf(value: unknown): Json {
  if (typeof value !== 'string') return {};
  const parsed = argumentsObject(value);
  return parsed.ok ? parsed.value : { _raw: value };
}

/** A provider's whole answer in the client's format (`to`); error bodies are rewritten by the caller. */
export function translateAnswer(to: ProviderKind, answer: unknown, now: () => Date): Json {
  const record = isRecord(answer) ? answer : {};
  return to === 'openai' ? toOpenAi(record, now) : toAnthropic(record);
}

/** The message of a provider's error body in either format, bounded (it was redacted of keys already). */
export function providerErrorMessage(answer: unknown): string {
  const error = isRecord(answer) && isRecord(answer.error) ? answer.error : undefined;
  return typeof error?.message === 'string' ? error.message.slice(0, 512) : 'no message';
}
