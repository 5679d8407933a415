/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/**
 * Parses a text/event-stream as chunks arrive (EventSource cannot send an
 * Authorization header, so the console reads the stream with fetch).
 */
export class SseParser {
  #buffer = '';
  #event = 'message';
  #data: string[] = [];
  #id: string | undefined;

  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    const out: SseEvent[] = [];
    let end = this.#buffer.indexOf('\n');
    while (end >= 0) {
      const line = this.#buffer.slice(0, end).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(end + 1);
      if (line === '') {
        if (this.#data.length > 0) {
          const data = this.#data.join('\n');
          out.push(
            this.#id === undefined
              ? { event: this.#event, data }
              : { event: this.#event, data, id: this.#id },
          );
        }
        this.#event = 'message';
        this.#data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') this.#event = value;
        else if (field === 'data') this.#data.push(value);
        else if (field === 'id') this.#id = value;
      }
      end = this.#buffer.indexOf('\n');
    }
    return out;
  }
}
