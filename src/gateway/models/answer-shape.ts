import { z } from 'zod';
import { jsonDepth, parseFiniteJson } from '../../core/bounded-json.js';
import { MAX_ANSWER_DEPTH, type ModelEndpoint } from './dialect.js';
import { providerErrorMessage } from './translate-answer.js';

const present = z.unknown().refine((value) => value !== null && value !== undefined);

/**
 * A provider's error, in either format, whatever else the body holds: a non-null `error` member
 * (OpenAI and the proxies that copy it), or Anthropic's `type: "error"`. A body that carries an
 * error beside `choices` or `content` is still an error: which half to believe is not the
 * gateway's guess to make, and the half it would pass on may quote the key the provider was sent.
 */
const ProviderErrorSchema = z.union([
  z.looseObject({ error: present }),
  z.looseObject({ type: z.literal('error') }),
]);

/** What a whole answer of each endpoint carries; anything else from a 2xx is not an answer. */
const ANSWER_SCHEMAS: Readonly<Record<ModelEndpoint, z.ZodType>> = {
  'chat.completions': z.looseObject({ choices: z.array(z.unknown()) }),
  embeddings: z.looseObject({ data: z.array(z.unknown()) }),
  messages: z.looseObject({ type: z.literal('message'), content: z.array(z.unknown()) }),
};

/** Whether a parsed body (a whole answer or one stream event's data) is a provider's error. */
export function isErrorBody(body: unknown): boolean {
  return ProviderErrorSchema.safeParse(body).success;
}

export type AnswerShape =
  /** `text` and `value`: the body as read and parsed, so the caller need not read it again. */
  | { readonly kind: 'answer'; readonly text: string; readonly value: unknown }
  /** Not JSON (or a number no double holds, or nested past MAX_ANSWER_DEPTH): left to the caller's reading, which refuses it as unreadable. */
  | { readonly kind: 'unreadable' }
  /**
   * `message`: the provider's own words (not yet redacted of the key it was sent); `body`: the
   * parsed body, where the usage the provider billed for it can be read.
   */
  | { readonly kind: 'error'; readonly reason: string; readonly message?: string; readonly body: unknown };

/** A 2xx body of `endpoint`, judged by the schemas above: an answer, a provider's error, or unreadable. */
export function answerShape(endpoint: ModelEndpoint, bytes: Buffer): AnswerShape {
  const text = bytes.toString('utf8');
  if (jsonDepth(text) > MAX_ANSWER_DEPTH) return { kind: 'unreadable' };
  let parsed: ReturnType<typeof parseFiniteJson>;
  try {
    parsed = parseFiniteJson(text);
  } catch {
    return { kind: 'unreadable' };
  }
  if (parsed.outOfRange !== undefined) return { kind: 'unreadable' };
  if (isErrorBody(parsed.value)) {
    return {
      kind: 'error',
      reason: 'an error body',
      message: providerErrorMessage(parsed.value),
      body: parsed.value,
    };
  }
  if (!ANSWER_SCHEMAS[endpoint].safeParse(parsed.value).success) {
    return { kind: 'error', reason: `a body that is not a ${endpoint} answer`, body: parsed.value };
  }
  return { kind: 'answer', text, value: parsed.value };
}
