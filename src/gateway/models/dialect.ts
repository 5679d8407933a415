import type { SseEvent } from './sse.js';

export type ModelEndpoint = 'chat.completions' | 'embeddings' | 'messages';
export type ProviderKind = 'openai' | 'anthropic';

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * Uses of the provider's own tools an answer reports, by the provider's counters (Anthropic's
 * `usage.server_tool_use`: `web_search_requests`, `web_fetch_requests`). A counter absent is not
 * reported; the fee of a tool it counts is then settled at the most uses the request allowed.
 */
export interface ToolUses {
  readonly webSearch?: number;
  readonly webFetch?: number;
}

/** What one event of a provider's stream means to the gateway. */
export interface StreamStep {
  /** Generated text in this event (counted against the budget as it arrives). */
  readonly text?: string;
  /** Usage the provider reported in this event (cumulative where the format says so). */
  readonly usage?: Partial<TokenUsage>;
  /** The model the provider says served the call. */
  readonly served?: string;
  /** Provider tool uses reported so far (cumulative, as Anthropic's usage is). */
  readonly toolUses?: ToolUses;
  /** The service tier the provider says served the call (OpenAI `service_tier`, Anthropic `usage.service_tier`). */
  readonly tier?: string;
}

/**
 * One wire format the gateway speaks on both sides (it passes requests on in
 * their own format: an OpenAI-format request goes to OpenAI-compatible
 * providers only, an Anthropic one to Anthropic providers only).
 */
export interface Dialect {
  readonly endpoint: ModelEndpoint;
  readonly kind: ProviderKind;
  /** The upstream path under the provider's base URL. */
  readonly path: string;
  /** Whether the endpoint generates (and so has max_tokens to clamp). */
  readonly generates: boolean;
  /**
   * The request's model, stream flag, requested output cap and number of answers asked for (OpenAI's
   * `n`: the cap holds for each, so the output can be `choices` times the cap); undefined when absent.
   */
  read(body: Readonly<Record<string, unknown>>): {
    model: unknown;
    stream: boolean;
    maxTokens: unknown;
    choices?: unknown;
  };
  /** The body sent upstream: the upstream model name, the clamped cap, usage asked for in streams. */
  prepare(
    body: Readonly<Record<string, unknown>>,
    model: string,
    maxTokens: number | undefined,
  ): Record<string, unknown>;
  /** Usage, served model, provider tool uses and served service tier of a whole answer. */
  answer(json: unknown): { usage?: TokenUsage; served?: string; toolUses?: ToolUses; tier?: string };
  step(event: SseEvent): StreamStep;
  /** Whether this event ends the stream (nothing after it is forwarded). */
  isEnd(event: SseEvent): boolean;
  /** The content block an event opens or closes (Anthropic streams), to close open ones on a cut. */
  block?(event: SseEvent): { readonly opened?: number; readonly closed?: number };
  /** Well-formed closing events for a stream the gateway cuts, saying why (closing `openBlocks` first), usage in the last. */
  cut(reason: string, model: string, openBlocks: readonly number[], usage: TokenUsage): SseEvent[];
  /** An error answer in this format. */
  error(status: number, code: string, message: string): Record<string, unknown>;
}

/**
 * Deepest nesting a provider's answer (a whole one, or one stream event's data) may have. Everything
 * after the parse recurses (translation's JSON.stringify of tool arguments, the JSON answer, digests),
 * and a tool call's `input` nested 20,000 levels deep made a 500 with no receipt after the provider
 * had the call. A model's tool arguments nest a few levels; this leaves them ample room.
 */
export const MAX_ANSWER_DEPTH = 512;

/**
 * Most tokens one count a provider reports may say (2^40, a million times any model's context):
 * the gateway adds counts (input and output, a call's and a budget's), and two counts near 2^53
 * would add up to a number no receipt can hold exactly, leaving an answered call without one.
 */
export const MAX_REPORTED_TOKENS = 2 ** 40;

/**
 * A token count a provider reported, trusted only as a whole number from 0 to MAX_REPORTED_TOKENS:
 * a negative, fractional, overflowing (`1e400`) or absurd count from a hostile or broken provider
 * would credit a budget back or poison its counters and receipts, so it counts as not reported
 * (the reservation is charged).
 */
export function reportedTokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_REPORTED_TOKENS
    ? value
    : undefined;
}

/** Longest served model name a receipt takes from a provider (a requested one is refused past it). */
export const MAX_MODEL_NAME = 256;

/**
 * The served model a provider named, trusted only as a string of 1 to MAX_MODEL_NAME characters:
 * it goes into the receipt, and an empty one (which the predicate refuses) or one of megabytes
 * (larger than a log entry) would leave a call the provider answered with no receipt.
 */
export function reportedModel(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_MODEL_NAME ? value : undefined;
}

/**
 * Members of a tool's JSON Schema whose value is a map of names (`properties: {ID: ..., id: ...}`):
 * their keys are data a provider decodes into a map, matched exactly even by Go's lenient
 * encoding/json, so two that differ only in case are two properties, not a smuggled twin
 * (core/twin-names.ts). The schemas under them are still checked.
 */
export const SCHEMA_MAP_MEMBERS: ReadonlySet<string> = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
]);

/**
 * The request members the gateway reads, rewrites or prices, in either wire format: a member
 * that imitates one of them (`Model`, `MAX_TOKENS`) is refused (core/twin-names.ts), since a
 * provider matching names loosely would read it in their place.
 */
export const REQUEST_MEMBERS = [
  'model',
  'messages',
  'input',
  'system',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'stream',
  'stream_options',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'thinking',
  'web_search_options',
  'mcp_servers',
  'service_tier',
  'prediction',
] as const;
