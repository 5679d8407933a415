/**
 * A log sink that keeps its lines until released, then passes them on in
 * order and every later line straight through: what a server started early
 * says on stderr stays behind the bridge's first line ("MCP bridge for ...").
 */
export class HeldLog {
  readonly #sink: (line: string) => void;
  #held: string[] | undefined = [];

  constructor(sink: (line: string) => void) {
    this.#sink = sink;
  }

  readonly line = (line: string): void => {
    if (this.#held === undefined) this.#sink(line);
    else this.#held.push(line);
  };

  /** Passes the kept lines on; idempotent. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const line of held ?? []) this.#sink(line);
  }
}
