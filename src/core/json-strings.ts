const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Where JSON strings begin and end, one character code (or UTF-8 byte: the quote and the
 * backslash are ASCII, and no multi-byte sequence contains them) at a time, so chunks may split
 * anywhere. The one reading of strings that the scans over raw JSON text share (nesting depth,
 * repeated member names): a bracket, colon or quote inside a string is none of theirs.
 */
export class JsonStrings {
  #inString = false;
  #escaped = false;

  /** Feeds one code; true when it belongs to a string, its opening and closing quotes included. */
  step(code: number): boolean {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (code === BACKSLASH) this.#escaped = true;
      else if (code === QUOTE) this.#inString = false;
      return true;
    }
    if (code !== QUOTE) return false;
    this.#inString = true;
    return true;
  }

  /** Whether the last code fed left a string open (false just after its closing quote). */
  get open(): boolean {
    return this.#inString;
  }
}
