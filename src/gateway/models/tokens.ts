import { countTokens } from 'gpt-tokenizer';

/** Tokens a chat format adds per message (role markers and separators), from OpenAI's counting guide. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;

/**
 * Input tokens of a request, counted with a real BPE tokenizer (o200k_base,
 * the encoding of OpenAI's current models) over every string in the messages
 * (text parts, tool arguments, system prompts). For Anthropic models it is an
 * estimate: their tokenizer is not public; the provider's reported usage
 * settles the budget afterwards either way.
 */
export function estimateInputTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const record = body as Record<string, unknown>;
  let total = 0;
  if (Array.isArray(record.messages)) total += record.messages.length * PER_MESSAGE + PER_REPLY;
  for (const key of ['messages', 'system', 'input', 'tools', 'prompt'] as const) {
    if (record[key] !== undefined) total += countStrings(record[key]);
  }
  return total;
}

/** Tokens of generated text (used to cut a stream whose provider ignores max_tokens). */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/** Every string value under `value`, tokenized; iterative, so any depth is fine. */
function countStrings(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') total += countTokens(next);
    else if (Array.isArray(next)) stack.push(...next);
    else if (typeof next === 'object' && next !== null) stack.push(...Object.values(next));
  }
  return total;
}
