import type { Readable } from 'node:stream';

/** Longer stderr lines are cut to this many bytes, and the cut is said on the line. */
export const STDERR_LINE_BYTES = 8 * 1024;

/** How many bytes of a server's stderr pass each second (and at once, after a quiet spell). */
export const STDERR_BYTES_PER_SECOND = 256 * 1024;

/** More than this unwritten on the bridge's own stderr (a host that does not read it) and server lines are dropped. */
export const STDERR_BACKLOG_BYTES = 1024 * 1024;

/** Whether the process's stderr has more than STDERR_BACKLOG_BYTES waiting to be written. */
export function processStderrBacklogged(): boolean {
  return process.stderr.writableLength > STDERR_BACKLOG_BYTES;
}

export interface StderrRelayOptions {
  /** True while the sink's own output waits unwritten (the bridge's stderr, unread by its host): lines are dropped. */
  readonly backlogged?: () => boolean;
}

/**
 * A server's stderr, line by line, to `sink`, bounded: MCP servers log there, and a server
 * printing a gigabyte as fast as it can (one endless line, or millions of short ones) must
 * neither grow OACP's memory nor hold its event loop. The stream is always read (the server
 * never blocks on it); a line is cut at STDERR_LINE_BYTES; lines over the rate, or while the
 * sink's output is backlogged, are dropped, and how many is said when lines pass again (at
 * most once a second) and when the stream ends.
 */
export function relayStderr(
  stream: Readable,
  sink: (line: string) => void,
  options: StderrRelayOptions = {},
): void {
  const relay = new StderrRelay(sink, options);
  stream.on('data', (chunk: Buffer | string) =>
    relay.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
  );
  stream.once('end', () => relay.end());
}

class StderrRelay {
  readonly #sink: (line: string) => void;
  readonly #backlogged: () => boolean;
  readonly #rate = STDERR_BYTES_PER_SECOND;
  /**
   * The current line's first bytes (up to STDERR_LINE_BYTES) and how many after them were cut.
   * Kept as bytes and decoded only once the line passes: a dropped line costs no string, and a
   * kept one is its own string, not a slice holding the whole chunk it came in.
   */
  #pieces: Buffer[] = [];
  #bytes = 0;
  #cut = 0;
  #tokens: number;
  #refilled: number;
  #droppedLines = 0;
  #droppedBytes = 0;
  #saidAt = 0;

  constructor(sink: (line: string) => void, options: StderrRelayOptions) {
    this.#sink = sink;
    this.#backlogged = options.backlogged ?? (() => false);
    this.#tokens = this.#rate;
    this.#refilled = Date.now();
  }

  write(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      this.#take(chunk, start, newline);
      start = newline + 1;
      this.#finishLine();
    }
    this.#take(chunk, start, chunk.length);
  }

  end(): void {
    if (this.#bytes > 0 || this.#cut > 0) this.#finishLine();
    this.#sayDropped();
  }

  /** Keeps what fits of chunk[start, end) in the current line; counts the rest as cut. */
  #take(chunk: Buffer, start: number, end: number): void {
    const kept = Math.min(Math.max(0, STDERR_LINE_BYTES - this.#bytes), end - start);
    if (kept > 0) this.#pieces.push(chunk.subarray(start, start + kept));
    this.#bytes += kept;
    this.#cut += end - start - kept;
  }

  #finishLine(): void {
    const pieces = this.#pieces;
    const length = this.#bytes + this.#cut + 1;
    const cut = this.#cut;
    this.#pieces = [];
    this.#bytes = 0;
    this.#cut = 0;
    if (!this.#admit(length)) {
      this.#droppedLines += 1;
      this.#droppedBytes += length;
      return;
    }
    const text = (
      pieces.length === 1 && pieces[0] !== undefined ? pieces[0] : Buffer.concat(pieces)
    ).toString('utf8');
    const raw = text.endsWith('\r') ? text.slice(0, -1) : text;
    // Said at most once a second: under a steady flood nearly every line that passes follows a drop.
    if (Date.now() - this.#saidAt >= 1000) this.#sayDropped();
    this.#sink(cut === 0 ? raw : `${raw} … (${cut} more bytes dropped)`);
  }

  /** A token bucket over bytes: at most the rate each second, and a second's worth at once. */
  #admit(length: number): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#refilled) / 1000) * this.#rate);
    this.#refilled = now;
    if (this.#backlogged()) return false;
    const cost = Math.min(length, STDERR_LINE_BYTES);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  #sayDropped(): void {
    if (this.#droppedLines === 0) return;
    this.#sink(
      `oacp: ${this.#droppedLines} stderr lines (${this.#droppedBytes} bytes) dropped: over ${this.#rate} bytes a second, or the bridge's own stderr was not being read`,
    );
    this.#droppedLines = 0;
    this.#droppedBytes = 0;
    this.#saidAt = Date.now();
  }
}
