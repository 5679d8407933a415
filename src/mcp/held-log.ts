/** At most this many characters are kept while held: a server flooding stderr at boot cannot grow OACP's memory. */
const HELD_CHARS_MAX = 256 * 1024;

/**
 * A log sink that keeps its lines until released, then passes them on in
 * order and every later line straight through: what a server started early
 * says on stderr stays behind the bridge's first line ("MCP bridge for ...").
 * Lines past HELD_CHARS_MAX are dropped while held, and their number is said.
 */
export class HeldLog {
  readonly #sink: (line: string) => void;
  #held: string[] | undefined = [];
  #chars = 0;
  #dropped = 0;

  constructor(sink: (line: string) => void) {
    this.#sink = sink;
  }

  readonly line = (line: string): void => {
    if (this.#held === undefined) {
      this.#sink(line);
      return;
    }
    if (this.#chars + line.length > HELD_CHARS_MAX) {
      this.#dropped += 1;
      return;
    }
    this.#chars += line.length;
    this.#held.push(line);
  };

  /** Passes the kept lines on; idempotent. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const line of held ?? []) this.#sink(line);
    if (this.#dropped > 0)
      this.#sink(`oacp: ${this.#dropped} further lines written before the bridge was ready were dropped`);
    this.#dropped = 0;
  }
}
