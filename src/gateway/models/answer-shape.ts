import { jsonDepth, parseFiniteJson } from '../../core/bounded-json.js';
import { MAX_ANSWER_DEPTH, type ModelEndpoint } from './dialect.js';
import { providerErrorMessage } from './translate-answer.js';

/** A JSON object (what a schema's `object` accepts: not null, not an array). */
function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A provider's error, in either format, whatever else the body holds: a non-null `error` member
 * (OpenAI and the proxies that copy it), or Anthropic's `type: "error"`. A body that carries an
 * error beside `choices` or `content` is still an error: which half to believe is not the
 * gateway's guess to make, and the half it would pass on may quote the key the provider was sent.
 * Plain reads, not a schema: this runs on every answer and every streamed event, and a schema
 * copied the whole body (and built its issues) only to be asked whether it matched.
 */
export function isErrorBody(body: unknown): boolean {
  if (!isObject(body)) return false;
  return (body.error !== null && body.error !== undefined) || body.type === 'error';
}

/** What a whole answer of each endpoint carries; anything else from a 2xx is not an answer. */
const IS_ANSWER: Readonly<Record<ModelEndpoint, (body: Readonly<Record<string, unknown>>) => boolean>> = {
  'chat.completions': (body) => Array.isArray(body.choices),
  embeddings: (body) => Array.isArray(body.data),
  messages: (body) => body.type === 'message' && Array.isArray(body.content),
};

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

/** A 2xx body of `endpoint`, judged by the shapes above: an answer, a provider's error, or unreadable. */
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
  if (!isObject(parsed.value) || !IS_ANSWER[endpoint](parsed.value)) {
    return { kind: 'error', reason: `a body that is not a ${endpoint} answer`, body: parsed.value };
  }
  return { kind: 'answer', text, value: parsed.value };
}
