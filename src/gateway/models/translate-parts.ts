import { parseBoundedJson } from '../../core/bounded-json.js';
import { MAX_ANSWER_DEPTH } from './dialect.js';
import { ModelsError } from './errors.js';
/** Why a request cannot be carried to a provider of the other wire format. */
export class UntranslatableRequest extends ModelsError {
  constructor(message: string) {
    super('MODELS_UNTRANSLATABLE', message);
  }
}

export type Json = Record<string, unknown>;

export const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text of a message's content: a string, or text parts only (anything else cannot be carried over). */
export function textOf(content: unknown, where: string): string {
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

/** A tool call's JSON arguments (a string in OpenAI's format) as the object Anthropic wants. */
export function parseArguments(value: unknown, where: string): Json {
  if (isRecord(value)) return value;
  if (typeof value !== 'string') throw new UntranslatableRequest(`${where} must be a JSON string`);
  const parsed = argumentsObject(value);
  if (parsed.ok) return parsed.value;
  throw new UntranslatableRequest(`${where} ${parsed.reason}`);
}

/**
 * Tool arguments (a JSON text inside a message) as an object, parsed within MAX_ANSWER_DEPTH and
 * with numbers a double holds: the parsed value is re-serialised (JSON.stringify recurses), and
 * arguments 20,000 levels deep, which the message's own depth check cannot see inside a string,
 * made a 500 with no receipt in either direction of a translation.
 */
export function argumentsObject(text: string): { ok: true; value: Json } | { ok: false; reason: string } {
  const parsed = parseBoundedJson(text === '' ? '{}' : text, MAX_ANSWER_DEPTH, 'its text');
  if (!parsed.ok) return { ok: false, reason: `must be a JSON object: ${parsed.reason}` };
  return isRecord(parsed.value)
    ? { ok: true, value: parsed.value }
    : { ok: false, reason: 'must be a JSON object' };
}

/** OpenAI finish reasons <-> Anthropic stop reasons. */
export const TO_OPENAI_FINISH: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};
export const TO_ANTHROPIC_STOP: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/**
 * An Anthropic usage's input as OpenAI counts it (`prompt_tokens` includes cached input):
 * `input_tokens` plus the prompt cache's written and read counts; undefined without `input_tokens`.
 * The same sum the budget settles on (anthropic-wire.ts), so the client and the receipt agree.
 */
export function anthropicPromptTokens(usage: Json): number | undefined {
  if (typeof usage.input_tokens !== 'number') return undefined;
  let total = usage.input_tokens;
  for (const field of ['cache_creation_input_tokens', 'cache_read_input_tokens'])
    if (typeof usage[field] === 'number') total += usage[field] as number;
  return total;
}
