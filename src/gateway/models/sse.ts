/** One server-sent event: its `event:` name (if any) and its `data:` lines joined. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

/**
 * An incremental parser for text/event-stream: feed it chunks as they come,
 * get back the events they complete. Linear in the input: only the unfinished
 * tail is kept between chunks. `limit` bounds one event's size.
 */
export class SseParser {
  #tail = '';
  readonly #decoder = new TextDecoder();

  constructor(private readonly limit = 8 * 1024 * 1024) {}

  push(chunk: Uint8Array): SseEvent[] {
    this.#tail += this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const boundary = /\r?\n\r?\n/g;
      boundary.lastIndex = start;
      const match = boundary.exec(this.#tail);
      if (match === null) break;
      const block = this.#tail.slice(start, match.index);
      start = match.index + match[0].length;
      const event = parseBlock(block);
      if (event !== undefined) events.push(event);
    }
    this.#tail = this.#tail.slice(start);
    if (this.#tail.length > this.limit)
      throw new Error(`an event of the stream is larger than ${this.limit} bytes`);
    return events;
  }

  /** The last event when the stream ends without a blank line. */
  end(): SseEvent[] {
    const rest = this.#tail + this.#decoder.decode();
    this.#tail = '';
    const event = parseBlock(rest);
    return event === undefined ? [] : [event];
  }
}

function parseBlock(block: string): SseEvent | undefined {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && event === undefined) return undefined;
  return { ...(event === undefined ? {} : { event }), data: data.join('\n') };
}

/** The wire form of one event. */
export function formatSse(event: SseEvent): string {
  const name = event.event === undefined ? '' : `event: ${event.event}\n`;
  return `${name}${event.data
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}
