import type { ProviderKind } from './dialect.js';

/** Why a request cannot be carried to a provider of the other wire format. */
export class UntranslatableRequest extends Error {}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text of a message's content: a string, or text parts only (anything else cannot be carried over). */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new UntranslatableRequest(`${where}: content must be text`);
  return content
    .map((part, i) => {
      if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
      throw new UntranslatableRequest(
        `${where}.content[${i}]: only text parts can be translated between the OpenAI and Anthropic formats`,
      );
    })
    .join('');
}

/** Sampling fields both formats share, by their names on each side. */
function sampling(body: Json, stopFrom: string, stopTo: string): Json {
  const out: Json = {};
  for (const key of ['temperature', 'top_p'] as const) if (body[key] !== undefined) out[key] = body[key];
  const stop = body[stopFrom];
  if (stop !== undefined) out[stopTo] = typeof stop === 'string' ? [stop] : stop;
  return out;
}

/** An OpenAI Chat Completions request as an Anthropic Messages request (text conversations only). */
function openAiToAnthropic(body: Json): Json {
  if (body.n !== undefined && body.n !== 1)
    throw new UntranslatableRequest('`n` other than 1 cannot be translated');
  for (const field of ['tools', 'tool_choice', 'functions', 'response_format', 'logprobs'] as const) {
    if (body[field] !== undefined)
      throw new UntranslatableRequest(`\`${field}\` cannot be translated to Anthropic`);
  }
  if (!Array.isArray(body.messages)) throw new UntranslatableRequest('`messages` must be a list');
  const system: string[] = [];
  const messages: Json[] = [];
  body.messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message)) throw new UntranslatableRequest(`${where} must be an object`);
    if (message.role === 'system' || message.role === 'developer')
      system.push(textOf(message.content, where));
    else if (message.role === 'user' || message.role === 'assistant')
      messages.push({ role: message.role, content: textOf(message.content, where) });
    else throw new UntranslatableRequest(`${where}: role "${String(message.role)}" cannot be translated`);
  });
  return {
    model: body.model,
    messages,
    ...(system.length === 0 ? {} : { system: system.join('\n\n') }),
    ...sampling(body, 'stop', 'stop_sequences'),
  };
}

/** An Anthropic Messages request as an OpenAI Chat Completions request (text conversations only). */
function anthropicToOpenAi(body: Json): Json {
  for (const field of ['tools', 'tool_choice', 'thinking'] as const) {
    if (body[field] !== undefined)
      throw new UntranslatableRequest(`\`${field}\` cannot be translated to OpenAI`);
  }
  if (!Array.isArray(body.messages)) throw new UntranslatableRequest('`messages` must be a list');
  const messages: Json[] = [];
  if (body.system !== undefined) messages.push({ role: 'system', content: textOf(body.system, 'system') });
  body.messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message) || (message.role !== 'user' && message.role !== 'assistant'))
      throw new UntranslatableRequest(`${where}: role must be user or assistant`);
    messages.push({ role: message.role, content: textOf(message.content, where) });
  });
  return {
    model: body.model,
    messages,
    max_tokens: body.max_tokens,
    ...sampling(body, 'stop_sequences', 'stop'),
  };
}

/** The request in the provider's format (`to`); throws UntranslatableRequest naming the field. */
export function translateRequest(to: ProviderKind, body: Json): Json {
  return to === 'anthropic' ? openAiToAnthropic(body) : anthropicToOpenAi(body);
}

const TO_OPENAI_FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
};
const TO_ANTHROPIC_STOP: Record<string, string> = { stop: 'end_turn', length: 'max_tokens' };

/** A provider's whole answer in the client's format (`to`); error bodies are rewritten by the caller. */
export function translateAnswer(to: ProviderKind, answer: unknown, now: () => Date): Json {
  const record = isRecord(answer) ? answer : {};
  const usage = isRecord(record.usage) ? record.usage : {};
  if (to === 'openai') {
    const text = Array.isArray(record.content)
      ? record.content
          .filter((block) => isRecord(block) && block.type === 'text' && typeof block.text === 'string')
          .map((block) => (block as { text: string }).text)
          .join('')
      : '';
    const input = Number(usage.input_tokens ?? 0);
    const output = Number(usage.output_tokens ?? 0);
    return {
      id: typeof record.id === 'string' ? record.id : 'chatcmpl-oacp',
      object: 'chat.completion',
      created: Math.floor(now().getTime() / 1000),
      model: record.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          finish_reason: TO_OPENAI_FINISH[String(record.stop_reason)] ?? 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
    };
  }
  const choice = Array.isArray(record.choices) && isRecord(record.choices[0]) ? record.choices[0] : {};
  const message = isRecord(choice.message) ? choice.message : {};
  return {
    id: typeof record.id === 'string' ? record.id : 'msg_oacp',
    type: 'message',
    role: 'assistant',
    model: record.model,
    content: [{ type: 'text', text: typeof message.content === 'string' ? message.content : '' }],
    stop_reason: TO_ANTHROPIC_STOP[String(choice.finish_reason)] ?? 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: Number(usage.prompt_tokens ?? 0),
      output_tokens: Number(usage.completion_tokens ?? 0),
    },
  };
}

/** The message of a provider's error body in either format, bounded (it was redacted of keys already). */
export function providerErrorMessage(answer: unknown): string {
  const error = isRecord(answer) && isRecord(answer.error) ? answer.error : undefined;
  return typeof error?.message === 'string' ? error.message.slice(0, 512) : 'no message';
}
