import { sha256Hex } from '../../core/digest.js';
import { canonicalize } from '../../core/jcs.js';
import type { Dialect, TokenUsage } from './dialect.js';
import { formatSse, type SseEvent, SseParser } from './sse.js';
import { countTextTokens } from './tokens.js';
import type { UpstreamResponse } from './upstream.js';

export interface StreamOutcome {
  readonly kind: 'ok' | 'cut' | 'failed';
  /** Usage as the provider reported it; absent when it reported none. */
  readonly usage?: TokenUsage;
  /** Output tokens counted by the gateway from the text it relayed. */
  readonly countedOutput: number;
  readonly served?: string;
  /** sha256 of the JCS form of every event's data the client received, in order (JSON parsed; other text as a string). */
  readonly digest: string;
  readonly reason?: string;
}

export interface RelayInput {
  readonly dialect: Dialect;
  readonly response: UpstreamResponse;
  /** Output tokens the call may produce; a provider that goes past it is cut off. */
  readonly outputCap: number;
  readonly model: string;
  readonly signal?: AbortSignal;
  /** Settles and writes the receipt; the stream's last event is sent only after it resolves. */
  finish(outcome: StreamOutcome): Promise<void>;
}

/**
 * Relays a provider's event stream to the client event by event, counting the
 * generated text. Past the output cap it stops reading and closes the stream
 * in the format's own well-formed way, saying why; a provider stream that
 * breaks off or sends garbage ends with an error event. The closing event
 * goes out after `finish` (the receipt) is done.
 */
export async function* relayStream(input: RelayInput): AsyncGenerator<string> {
  const { dialect } = input;
  const parser = new SseParser();
  const forwarded: unknown[] = [];
  const openBlocks = new Set<number>();
  let counted = 0;
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  let served: string | undefined;
  let finished = false;
  const outcome = (kind: StreamOutcome['kind'], reason?: string): StreamOutcome => ({
    kind,
    countedOutput: counted,
    ...(inputTokens === undefined ? {} : { usage: { inputTokens, outputTokens: outputTokens ?? counted } }),
    ...(served === undefined ? {} : { served }),
    digest: sha256Hex(canonicalize(forwarded)),
    ...(reason === undefined ? {} : { reason }),
  });
  const record = (event: SseEvent) => forwarded.push(dataOf(event));
  const close = async function* (kind: StreamOutcome['kind'], events: readonly SseEvent[], reason?: string) {
    const last = events.at(-1);
    for (const event of events.slice(0, -1)) {
      record(event);
      yield formatSse(event);
    }
    if (last !== undefined) record(last);
    finished = true;
    await input.finish(outcome(kind, reason));
    if (last !== undefined) yield formatSse(last);
  };
  const upstream = input.response.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await upstream.next();
      } catch (error) {
        if (input.signal?.aborted) return;
        const reason = `the provider's stream broke off: ${(error as Error).message.slice(0, 200)}`;
        yield* close('failed', [streamError(dialect, reason)], reason);
        return;
      }
      if (next.done === true) break;
      const chunk = next.value;
      if (input.signal?.aborted) break;
      let events: SseEvent[];
      try {
        events = parser.push(chunk);
      } catch (error) {
        yield* close('failed', [streamError(dialect, (error as Error).message)], (error as Error).message);
        return;
      }
      for (const event of events) {
        if (dialect.isEnd(event)) {
          yield* close('ok', [event]);
          return;
        }
        if (event.data !== '' && event.data !== '[DONE]' && !isJson(event.data)) {
          const reason = 'the provider sent an event that is not JSON';
          yield* close('failed', [streamError(dialect, reason)], reason);
          return;
        }
        const step = dialect.step(event);
        if (step.usage?.inputTokens !== undefined) inputTokens = step.usage.inputTokens;
        if (step.usage?.outputTokens !== undefined) outputTokens = step.usage.outputTokens;
        if (step.served !== undefined) served = step.served;
        const block = dialect.block?.(event);
        if (block?.opened !== undefined) openBlocks.add(block.opened);
        if (block?.closed !== undefined) openBlocks.delete(block.closed);
        if (step.text !== undefined) counted += countTextTokens(step.text);
        if (counted > input.outputCap) {
          const reason = `output cut at the token budget: ${input.outputCap} output tokens allowed`;
          yield* close('cut', dialect.cut(reason, input.model, [...openBlocks]), reason);
          return;
        }
        record(event);
        yield formatSse(event);
      }
    }
    if (input.signal?.aborted) return;
    const reason = 'the provider ended the stream before its final event';
    yield* close('failed', [streamError(dialect, reason)], reason);
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
    return JSON.parse(event.data);
  } catch {
    return event.data;
  }
}
