/** The last lines a server wrote on stderr, kept to explain why it stopped. */
export class StderrTail {
  readonly #max: number;
  readonly #lines: string[] = [];

  constructor(max = 8) {
    this.#max = max;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
  }

  lines(): readonly string[] {
    return [...this.#lines];
  }

  /** The lines escaped onto one line (control characters as \uXXXX, quotes kept), each cut at 200 characters. */
  describe(count = 4): string {
    const recent = this.#lines.filter((line) => line.trim() !== '').slice(-count);
    if (recent.length === 0) return 'it printed nothing on stderr';
    return `its last lines: ${recent.map((line) => JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}…` : line)).join(' | ')}`;
  }
}
