import { createRequire } from 'node:module';

type Tokenizer = typeof import('gpt-tokenizer');

/** One require function for this module (making one costs ~19 µs; a cached require ~0.4 µs). */
const requireHere = createRequire(import.meta.url);

/**
 * The o200k_base tokenizer, loaded on first need: importing it costs about
 * half a second and 20-35 MB of heap (its rank tables), which every gateway
 * paid, and every major GC marked, with no model configured. Node's module
 * cache holds it after the first call (no state of ours); a gateway with
 * providers loads it at start (`loadTokenizer`), so no call waits for it.
 */
export function loadTokenizer(): Tokenizer {
  return requireHere('gpt-tokenizer') as Tokenizer;
}

const countTokens = (text: string): number => loadTokenizer().countTokens(text);

/** Tokens a chat format adds per message (role markers and separators), from OpenAI's counting guide. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;

/**
 * Input tokens of a request, counted with a real BPE tokenizer (o200k_base,
 * the encoding of OpenAI's current models) over every string and member name
 * of the body but `model` (messages, system prompts, tools and every other
 * field a provider reads), and one per token id (a number in `input` or
 * `prompt`). For Anthropic models it is an
 * estimate: their tokenizer is not public; the provider's reported usage
 * settles the budget afterwards either way.
 */
export function estimateInputTokens(body: unknown, counts?: TokenCounts): number {
  if (typeof body !== 'object' || body === null) return 0;
  const record = body as Record<string, unknown>;
  const count = counts === undefined ? loadTokenizer().countTokens : (text: string) => counts.count(text);
  let total = 0;
  if (Array.isArray(record.messages)) total += record.messages.length * PER_MESSAGE + PER_REPLY;
  // Every member but the model's name: a provider reads (and bills) more than messages, system
  // and tools (legacy `functions`, a `response_format` schema, `prediction`, `documents`, …), and
  // a field left out of the count let a request past llm_tokens_per_request with its tokens there.
  for (const [key, value] of Object.entries(record)) {
    if (key === 'model' || value === undefined) continue;
    // `input` (embeddings) and `prompt` may be token ids, sent as they are: each number is a token.
    total += countStrings(value, count, key === 'input' || key === 'prompt');
  }
  return total;
}

/**
 * What one remembered string costs beside its characters (the map's entry, the count, the string's
 * header), in characters: what bounds the number of short strings held. Short strings are worth
 * remembering too: the tokenizer spends about 1 µs on "hello" and 3 µs on 100 characters here, a
 * lookup well under 0.1 µs, and a chat's roles, names and short turns come back every call.
 */
const ENTRY_CHARS = 64;

/**
 * Token counts of one agent's strings, kept between its calls: a chat
 * sends its whole history every turn, and tokenizing 100 KB costs about 2 ms
 * of CPU here while looking it up costs microseconds. One per agent (the
 * model gateway keeps them), so how long a call takes never tells an agent
 * whether another agent sent the same text. Bounded in characters held; the
 * oldest entry goes first.
 */
export class TokenCounts {
  readonly #counts = new Map<string, number>();
  #chars = 0;

  constructor(private readonly maxChars: number) {}

  count(text: string): number {
    const cost = text.length + ENTRY_CHARS;
    if (cost > this.maxChars) return countTokens(text);
    const known = this.#counts.get(text);
    if (known !== undefined) return known;
    const counted = countTokens(text);
    this.#counts.set(text, counted);
    this.#chars += cost;
    for (const [oldest] of this.#counts) {
      if (this.#chars <= this.maxChars) break;
      this.#counts.delete(oldest);
      this.#chars -= oldest.length + ENTRY_CHARS;
    }
    return counted;
  }

  /** Characters held now, each string's fixed cost (ENTRY_CHARS) included: never more than the bound. */
  get heldChars(): number {
    return this.#chars;
  }
}

/** Tokens of generated text (used to cut a stream whose provider ignores max_tokens). */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/**
 * Fewest input tokens an image part counts for: about what one image costs at most where the
 * size is bounded (Anthropic's ~1,600 for an image scaled to 1.15 megapixels; OpenAI's 1,445
 * for gpt-4o at high detail). A linked image (a URL, a file id) is a few tokens of text but is
 * billed by its pixels: 100 of them passed llm_tokens_per_request as ~2,000 tokens and were
 * billed ~150,000. A linked document counts as one such page at least. Data sent inline counts
 * as its text when that is more.
 */
export const IMAGE_INPUT_TOKENS = 1600;

/**
 * A content part the provider bills by what it holds, not by the text of its reference: an image
 * (OpenAI's `image_url` or `input_image`, Anthropic's `image` block) or a document (OpenAI's
 * `file` part, Anthropic's `document` block: a PDF, billed per page, each page at least an image).
 */
function isImagePart(value: Record<string, unknown>): boolean {
  switch (value.type) {
    case 'image_url':
    case 'input_image':
    case 'file':
    case 'input_file':
      return true;
    case 'image':
    case 'document':
      return 'source' in value;
    default:
      return false;
  }
}

/**
 * Every string value under `value`, tokenized, and with `ids` every number as one token (token
 * ids); with `images`, an image part counts at least IMAGE_INPUT_TOKENS. Iterative and without
 * spreading arrays into arguments, so any depth and any length is fine (`push(...items)` of
 * 400,000 items overflowed the stack).
 */
function countStrings(value: unknown, count: (text: string) => number, ids: boolean, images = true): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') total += count(next);
    else if (typeof next === 'number') total += ids ? 1 : 0;
    else if (Array.isArray(next)) for (const item of next) stack.push(item);
    else if (typeof next === 'object' && next !== null) {
      const record = next as Record<string, unknown>;
      // One level only (what is inside an image part is counted as plain text), so no nesting recurses.
      if (images && isImagePart(record)) {
        total += Math.max(IMAGE_INPUT_TOKENS, countStrings(record, count, ids, false));
        continue;
      }
      // Names are read too: a tool schema's property names are tokens the provider bills.
      for (const [name, item] of Object.entries(record)) {
        total += count(name);
        stack.push(item);
      }
    }
  }
  return total;
}

/** Characters of strings remembered per agent (about 2 bytes each), their fixed costs included. */
const CHARS_PER_AGENT = 256 * 1024;
/** Agents whose counts are kept; the one used least recently goes first. */
const AGENTS_KEPT = 32;

/** One TokenCounts per agent, for the most recently calling agents only (bounded memory). */
export class AgentTokenCounts {
  readonly #byAgent = new Map<string, TokenCounts>();

  for(agent: string): TokenCounts {
    let counts = this.#byAgent.get(agent);
    if (counts === undefined) counts = new TokenCounts(CHARS_PER_AGENT);
    else this.#byAgent.delete(agent);
    this.#byAgent.set(agent, counts);
    for (const [oldest] of this.#byAgent) {
      if (this.#byAgent.size <= AGENTS_KEPT) break;
      this.#byAgent.delete(oldest);
    }
    return counts;
  }
}
