import { jsonDepth, parseFiniteJson, tooDeep } from '../../core/bounded-json.js';
import { sha256Hex } from '../../core/digest.js';
import { duplicateJsonKey, duplicateKeyReason } from '../../core/duplicate-key.js';
import { canonicalize } from '../../core/jcs.js';
import { isErrorBody } from './answer-shape.js';
import { type Dialect, MAX_ANSWER_DEPTH, type TokenUsage, type ToolUses } from './dialect.js';
import { formatSse, type SseEvent, SseParser } from './sse.js';
import { countTextTokens } from './tokens.js';
import { providerErrorMessage } from './translate-answer.js';
import type { UpstreamResponse } from './upstream.js';

export interface StreamOutcome {
  readonly kind: 'ok' | 'cut' | 'failed';
  /** Usage as the provider reported it (at least what was relayed, on a cut); absent when it reported no input count. */
  readonly usage?: TokenUsage;
  /**
   * The output count the provider reported when it reported no input count (Anthropic's
   * message_start missing or cut off, its message_delta there): kept, the input estimated beside it.
   */
  readonly reportedOutput?: number;
  /** Output tokens counted by the gateway from the text it received. */
  readonly countedOutput: number;
  readonly served?: string;
  /**
   * Provider tool uses as the provider last reported them; only on a stream that ended as it should
   * (a cut or broken one may have run more than its last report said).
   */
  readonly toolUses?: ToolUses;
  /** The service tier the provider says served the call. */
  readonly tier?: string;
  /** sha256 of the JCS form of every event's data the client received, in order (JSON parsed; other text as a string). */
  readonly digest: string;
  readonly reason?: string;
}

/** The client's side of a stream served in the other wire format. */
export interface ClientSide {
  readonly dialect: Dialect;
  /** The client-format events for one provider event: none, one or several. */
  translate(event: SseEvent): SseEvent[];
}

export interface RelayInput {
  /** The provider's wire format. */
  readonly dialect: Dialect;
  /** When the client speaks the other format: its dialect and the stream translator. */
  readonly client?: ClientSide;
  readonly response: UpstreamResponse;
  /** Output tokens the call may produce; a provider that goes past it is cut off. */
  readonly outputCap: number;
  /**
   * Most bytes read from the provider's stream, as a whole answer is bounded: events that carry no
   * text count no tokens, so a provider streaming them without end was never cut, and what the
   * gateway keeps of a stream (the events held back, the data digested) grew until it ran out of memory.
   */
  readonly maxBytes: number;
  readonly model: string;
  readonly signal?: AbortSignal;
  /**
   * Whether an OpenAI-format client gets the chunk with no choices and the usage: only when it set
   * `stream_options.include_usage` (the gateway always asks the provider for it, to count). A
   * client that did not ask may read `choices[0]` of every chunk, and that one has none.
   */
  readonly usageChunk?: boolean;
  /** Takes the provider's key out of its text (an error event may quote it). */
  readonly redact: (text: string) => Promise<string>;
  /** Settles and writes the receipt; the stream's last event is sent only after it resolves. */
  finish(outcome: StreamOutcome): Promise<void>;
}

/**
 * How far past the cap (by the gateway's o200k count) events are held back,
 * waiting for the provider's own count, before the stream is cut: providers
 * tokenize differently, and one that kept to `max_tokens` by its own count
 * must not be cut for it (docs/model-gateway.md, "Budgets").
 */
export function holdSlack(outputCap: number): number {
  return Math.max(64, Math.ceil(outputCap / 4));
}

/**
 * Relays a provider's event stream to the client event by event (translated
 * when the client speaks the other format), counting the generated text.
 * Past the output cap the events are held back: the provider's final usage
 * releases them if it kept to the cap by its own count; otherwise (or past
 * the slack) the stream is closed in the client format's own well-formed way,
 * saying why. A provider stream that breaks off or sends garbage ends with
 * an error event. The closing event goes out after `finish` (the receipt).
 */
export async function* relayStream(input: RelayInput): AsyncGenerator<string> {
  const { dialect } = input;
  const client = input.client?.dialect ?? dialect;
  const translate = input.client === undefined ? (event: SseEvent) => [event] : input.client.translate;
  const parser = new SseParser();
  const forwarded: unknown[] = [];
  const openBlocks = new Set<number>();
  const slack = holdSlack(input.outputCap);
  let held: SseEvent[] | undefined;
  let counted = 0;
  let received = 0;
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  let served: string | undefined;
  let toolUses: ToolUses | undefined;
  let tier: string | undefined;
  let finished = false;
  const outcome = (kind: StreamOutcome['kind'], reason?: string): StreamOutcome => {
    // On a cut or a failure the provider's last count may predate what it sent: never charge less than that.
    const output = kind === 'ok' ? (outputTokens ?? counted) : Math.max(outputTokens ?? 0, counted);
    return {
      kind,
      countedOutput: counted,
      ...(inputTokens === undefined ? {} : { usage: { inputTokens, outputTokens: output } }),
      ...(inputTokens === undefined && outputTokens !== undefined ? { reportedOutput: output } : {}),
      ...(served === undefined ? {} : { served }),
      ...(kind === 'ok' && toolUses !== undefined ? { toolUses } : {}),
      ...(tier === undefined ? {} : { tier }),
      digest: sha256Hex(canonicalize(forwarded)),
      ...(reason === undefined ? {} : { reason }),
    };
  };
  const unasked = (event: SseEvent): boolean => {
    if (input.usageChunk !== false || client.kind !== 'openai' || !event.data.includes('"usage"'))
      return false;
    const data = dataOf(event) as { choices?: unknown; usage?: unknown } | null;
    return Array.isArray(data?.choices) && data.choices.length === 0 && data.usage != null;
  };
  // The digest covers what the client receives, so a chunk it did not ask for is in neither.
  const out = (events: readonly SseEvent[]): string[] =>
    events
      .filter((event) => !unasked(event))
      .map((event) => {
        forwarded.push(dataOf(event));
        return formatSse(event);
      });
  /** Ends the stream with client-format `events`, the last one only after the receipt. */
  const close = async function* (kind: StreamOutcome['kind'], events: readonly SseEvent[], reason?: string) {
    const last = events.at(-1);
    yield* out(events.slice(0, -1));
    const tail = last === undefined ? [] : out([last]);
    finished = true;
    await input.finish(outcome(kind, reason));
    yield* tail;
  };
  const fail = (reason: string) => close('failed', [streamError(client, reason)], reason);
  const cut = () => {
    const reason = `output cut at the token budget: ${input.outputCap} output tokens allowed`;
    const usage = { inputTokens: inputTokens ?? 0, outputTokens: Math.min(counted, input.outputCap) };
    const closing = dialect.cut(reason, input.model, [...openBlocks], usage).flatMap(translate);
    return close('cut', closing, reason);
  };
  const upstream = input.response.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await upstream.next();
      } catch (error) {
        if (input.signal?.aborted) return;
        yield* fail(`the provider's stream broke off: ${(error as Error).message.slice(0, 200)}`);
        return;
      }
      if (next.done === true) break;
      if (input.signal?.aborted) break;
      received += next.value.length;
      if (received > input.maxBytes) {
        yield* fail(`the provider's stream is larger than ${input.maxBytes} bytes`);
        return;
      }
      let events: SseEvent[];
      try {
        events = parser.push(next.value);
      } catch (error) {
        yield* fail((error as Error).message);
        return;
      }
      for (const event of events) {
        if (dialect.isEnd(event)) {
          if (held !== undefined) {
            // Past the cap by the gateway's count: the provider's own count decides.
            if (outputTokens === undefined || outputTokens > input.outputCap) {
              yield* cut();
              return;
            }
            yield* out(held.flatMap(translate));
          }
          yield* close('ok', translate(event));
          return;
        }
        if (event.data !== '' && event.data !== '[DONE]' && !isJson(event.data)) {
          yield* fail('the provider sent an event that is not JSON');
          return;
        }
        // As for a whole answer (dialect.ts MAX_ANSWER_DEPTH): what translates and digests events recurses.
        if (jsonDepth(event.data) > MAX_ANSWER_DEPTH) {
          yield* fail(tooDeep("an event of the provider's stream", MAX_ANSWER_DEPTH));
          return;
        }
        // As for a whole answer: the event goes out as it came, and the digest is of JSON.parse's reading.
        const repeated = duplicateJsonKey(event.data);
        if (repeated !== undefined) {
          yield* fail(duplicateKeyReason("an event of the provider's stream", repeated));
          return;
        }
        // An error mid-stream (a 200 whose events turn to an error) ends the call as failed, and
        // may quote the key the provider was sent: it reaches the agent only redacted.
        if (event.data.includes('"error"')) {
          const data = dataOf(event);
          if (isErrorBody(data)) {
            const message = await input.redact(providerErrorMessage(data));
            yield* fail(`the provider's stream carried an error event: ${message}`);
            return;
          }
        }
        const step = dialect.step(event);
        // Input read never shrinks in a stream: a later report leaving out what an earlier one counted
        // (Anthropic's message_delta without the cache counts of message_start) does not lower it.
        if (step.usage?.inputTokens !== undefined)
          inputTokens = Math.max(inputTokens ?? 0, step.usage.inputTokens);
        if (step.usage?.outputTokens !== undefined) outputTokens = step.usage.outputTokens;
        if (step.served !== undefined) served = step.served;
        if (step.tier !== undefined) tier = step.tier;
        // Cumulative, as Anthropic reports them: message_delta's count replaces message_start's.
        if (step.toolUses !== undefined) toolUses = { ...toolUses, ...step.toolUses };
        const block = dialect.block?.(event);
        if (block?.opened !== undefined) openBlocks.add(block.opened);
        if (block?.closed !== undefined) openBlocks.delete(block.closed);
        if (step.text !== undefined) counted += countTextTokens(step.text);
        if (held === undefined && counted > input.outputCap) held = [];
        if (held !== undefined) {
          // A provider past the cap by its own running count, or far past it by ours, is cut.
          if (counted > input.outputCap + slack || (outputTokens ?? 0) > input.outputCap) {
            yield* cut();
            return;
          }
          held.push(event);
          continue;
        }
        yield* out(translate(event));
      }
    }
    if (input.signal?.aborted) return;
    yield* fail('the provider ended the stream before its final event');
  } finally {
    // Stop reading the provider: destroys the upstream body (and its connection) if it is still going.
    await Promise.resolve(upstream.return?.(undefined)).catch(() => undefined);
    if (!finished) {
      finished = true;
      await input
        .finish(outcome('cut', 'the client went away before the stream ended'))
        .catch(() => undefined);
    }
  }
}

function streamError(dialect: Dialect, message: string): SseEvent {
  const body = JSON.stringify(dialect.error(502, 'provider_stream_failed', message));
  return dialect.kind === 'anthropic' ? { event: 'error', data: body } : { data: body };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function dataOf(event: SseEvent): unknown {
  try {
    const parsed = parseFiniteJson(event.data);
    // A number no double holds has no JCS form: such data is digested as the text it is.
    return parsed.outOfRange === undefined ? parsed.value : event.data;
  } catch {
    return event.data;
  }
}
