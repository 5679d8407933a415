import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { numberOutOfRange, parseFiniteJson, withoutByteOrderMark } from '../core/bounded-json.js';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';
import type { HeldVerdict } from './held-control.js';
import { INVALID_REQUEST, type JsonRpcId, type JsonRpcMessage, PARSE_ERROR } from './jsonrpc.js';
import type { InvalidMessageHandler, MessageTransport } from './transport.js';
import { methodOfUnread, UnreadDigest, unreadMessage } from './unread-message.js';

/** Larger single messages are refused (and the line skipped) rather than buffered without bound. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * How much written output may wait for its reader before the transport says it is backlogged (the
 * bridge then stops reading the server until it drains): as much as an HTTP stream may leave unread.
 */
export const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/**
 * How much a transport that reads on while paused (`control`) keeps of the lines it holds: past
 * either, it stops reading until resumed. A cancellation further behind waits with the rest.
 */
export const MAX_HELD_LINES = { lines: 1024, bytes: 8 * 1024 * 1024 } as const;

/** How much of an oversized line is kept at each end to find the id of the message it was. */
const ID_WINDOW = 4096;

/**
 * MCP's stdio framing (one JSON-RPC message per line) over any pair of
 * streams: the bridge's own stdin/stdout, or a sandboxed server's pipes. Unlike
 * the SDK's stdio transports it reports lines that are not JSON-RPC through
 * `oninvalid` and keeps reading, so one bad line never ends a session.
 *
 * Framing is linear in the input: a chunk is searched for newlines once and
 * kept as a piece until its line ends, so a 48 MiB line costs one join, not
 * one copy per chunk. A line over the cap is skipped as it streams, and its
 * caller is told: `oninvalid` carries the id found at the line's start or end.
 */
export class LineTransport implements MessageTransport {
  onmessage?: ((message: unknown, bytes?: number) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  oninvalid?: InvalidMessageHandler | undefined;

  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxLineChars: number;
  readonly #decoder = new StringDecoder('utf8');
  #pieces: string[] = [];
  #pendingChars = 0;
  /** Set while an oversized line streams past: its first and (rolling) last characters, and its digest. */
  #skipping: { head: string; tail: string; digest: UnreadDigest } | undefined;
  #closed = false;
  /** The output failed or closed (the reader went away): nothing sent can arrive, so the transport closes. */
  #outputGone = false;
  /** Set between pause() and resume(): no line is delivered. */
  #paused = false;
  /** What a chunk had left when it was paused between two of its lines: delivered on resume(). */
  #held: string | undefined;
  /**
   * With `control`, while paused: the lines read but held, in order, each with the request id it
   * carries, and their length together. Bounded by MAX_HELD_LINES: past it the input is paused.
   */
  #heldLines: { readonly line: string; readonly id?: JsonRpcId }[] = [];
  #heldChars = 0;
  /** Set: pause() reads on, passing what this says passes and holding the rest (see pause). */
  readonly #control: ((message: unknown) => HeldVerdict) | undefined;
  /** See the constructor's `quote`. */
  readonly #quote: ((line: string) => string) | undefined;
  /** The input ended while text was held: closed once that text is delivered. */
  #endedHeld = false;
  /** Set while the output is corked until the current tick ends: see send. */
  #corked = false;
  /** What every send waits on while the output is over its high-water mark. */
  #drained: Promise<void> | undefined;

  constructor(
    input: Readable,
    output: Writable,
    options: {
      maxLineBytes?: number;
      control?: (message: unknown) => HeldVerdict;
      /**
       * How a line that is not JSON is quoted in the report (secrets masked first, then cut):
       * given by whoever knows the secrets the peer may print (a server's). Unquoted without it.
       */
      quote?: (line: string) => string;
    } = {},
  ) {
    this.#input = input;
    this.#output = output;
    this.#maxLineChars = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#control = options.control;
    this.#quote = options.quote;
  }

  async start(): Promise<void> {
    this.#input.on('data', this.#onData);
    this.#input.once('end', this.#onEnd);
    this.#input.once('close', this.#onEnd);
    this.#input.on('error', this.#onError);
    this.#output.on('error', this.#onOutputError);
    this.#output.once('close', this.#onOutputGone);
  }

  /** Rejects (never throws) when the message cannot be written as JSON. */
  send(message: JsonRpcMessage): Promise<void> {
    if (this.#closed || this.#output.destroyed || !this.#output.writable) return Promise.resolve();
    let line: string;
    try {
      line = `${JSON.stringify(message)}\n`;
    } catch (error) {
      return Promise.reject(
        new OacpError<McpErrorCode>(
          'MCP_MESSAGE_REFUSED',
          `cannot send the message as JSON: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    }
    // Messages sent in the same tick (answers to calls in flight, calls forwarded together)
    // leave in one writev(2): one system call and one wake-up of the reader, not one each.
    if (!this.#corked) {
      this.#corked = true;
      this.#output.cork();
      process.nextTick(this.#uncork);
    }
    if (this.#output.write(line)) return Promise.resolve();
    // One drain listener for every write that waits, not one each (a flood added thousands).
    this.#drained ??= new Promise((resolve) =>
      this.#output.once('drain', () => {
        this.#drained = undefined;
        resolve();
      }),
    );
    return this.#drained;
  }

  /** False once the output is gone: an answer sent now reaches nobody (its receipt says so). */
  canAnswer(): boolean {
    return !this.#outputGone;
  }

  backlogged(): boolean {
    return this.#output.writableLength > MAX_BACKLOG_BYTES;
  }

  whenDrained(then: () => void): void {
    if (this.#output.writableLength === 0 || this.#output.destroyed) then();
    else this.#output.once('drain', then);
  }

  /**
   * No line is delivered until resume(). With `control`, the input is read on meanwhile, up to
   * MAX_HELD_LINES held: what `control` passes is delivered at once (a client's cancellation,
   * its answer to a server's request), so a held client can still cancel what holds it; a
   * cancellation of a line held is delivered right behind that line, taken out of the queue.
   */
  pause(): void {
    this.#paused = true;
    if (this.#control === undefined || this.#heldFull()) this.#input.pause();
  }

  /** Delivers what was held first, in order (which may pause again), then reads the input on. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    while (this.#heldLines.length > 0 && !this.#paused && !this.#closed) {
      const next = this.#heldLines.shift() as { line: string };
      this.#heldChars -= next.line.length;
      this.#line(next.line);
    }
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined && !this.#closed) this.#onData(held);
    if (this.#closed) return;
    if (this.#paused) {
      // Paused again while delivering: read on if the queue has room (control), else stay stopped.
      if (this.#control !== undefined && !this.#heldFull() && !this.#endedHeld) this.#input.resume();
      return;
    }
    if (this.#endedHeld) {
      void this.close();
      return;
    }
    this.#input.resume();
  }

  #heldFull(): boolean {
    return this.#heldLines.length >= MAX_HELD_LINES.lines || this.#heldChars >= MAX_HELD_LINES.bytes;
  }

  /** While paused with `control`: a whole line read, passed on now or held (see pause). */
  #sieve(raw: string): void {
    const line = withoutByteOrderMark(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    let verdict: HeldVerdict = { kind: 'hold' };
    if (line.trim() !== '') {
      try {
        verdict = (this.#control as (message: unknown) => HeldVerdict)(parseFiniteJson(line).value);
      } catch {
        // Not JSON: held, and refused in its turn as any such line is.
      }
    }
    if (verdict.kind === 'pass') {
      this.#line(raw);
      return;
    }
    if (verdict.kind === 'cancel') {
      const at = this.#heldLines.findIndex((held) => held.id === verdict.requestId);
      if (at !== -1) {
        // Its request was never delivered: delivered now, with the cancellation right behind it.
        const [request] = this.#heldLines.splice(at, 1) as [{ line: string }];
        this.#heldChars -= request.line.length;
        this.#line(request.line);
      }
      if (!this.#closed) this.#line(raw);
      return;
    }
    this.#heldLines.push(verdict.id === undefined ? { line: raw } : { line: raw, id: verdict.id });
    this.#heldChars += raw.length;
    if (this.#heldFull()) this.#input.pause();
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#output.uncork();
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off('data', this.#onData);
    this.#input.off('end', this.#onEnd);
    this.#input.off('close', this.#onEnd);
    this.#output.off('close', this.#onOutputGone);
    this.#pieces = [];
    this.#held = undefined;
    this.#heldLines = [];
    this.#heldChars = 0;
    this.onclose?.();
  }

  readonly #onData = (chunk: Buffer | string): void => {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    if (this.#paused && (this.#control === undefined || this.#heldFull())) {
      // Emitted before the pause took (a stream may): kept, in order, for resume().
      this.#held = (this.#held ?? '') + text;
      return;
    }
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      start = newline + 1;
      if (this.#skipping !== undefined) {
        this.#endSkipped(piece);
        continue;
      }
      if (this.#pendingChars + piece.length > this.#maxLineChars) {
        this.#startSkipping(piece);
        this.#endSkipped('');
        continue;
      }
      const line = this.#pieces.length === 0 ? piece : this.#pieces.join('') + piece;
      this.#pieces = [];
      this.#pendingChars = 0;
      if (this.#paused && this.#control !== undefined) this.#sieve(line);
      else this.#line(line);
      if (this.#closed) return;
      if (this.#paused && (this.#control === undefined || this.#heldFull())) {
        // A chunk holds many lines (a pipe's 64 KiB, a stream's whole write): the rest waits.
        if (start < text.length) this.#held = text.slice(start);
        return;
      }
    }
    const rest = start === 0 ? text : text.slice(start);
    if (rest === '') return;
    if (this.#skipping !== undefined) {
      this.#skipping.tail = (this.#skipping.tail + rest).slice(-ID_WINDOW);
      this.#skipping.digest.add(rest);
      return;
    }
    if (this.#pendingChars + rest.length > this.#maxLineChars) {
      this.#startSkipping(rest);
      return;
    }
    this.#pieces.push(rest);
    this.#pendingChars += rest.length;
  };

  #startSkipping(piece: string): void {
    const buffered = this.#pieces.join('') + piece;
    const digest = new UnreadDigest();
    digest.add(buffered);
    this.#skipping = { head: buffered.slice(0, ID_WINDOW), tail: buffered.slice(-ID_WINDOW), digest };
    this.#pieces = [];
    this.#pendingChars = 0;
  }

  #endSkipped(lastPiece: string): void {
    const skipped = this.#skipping;
    this.#skipping = undefined;
    if (skipped === undefined) return;
    const tail = (skipped.tail + lastPiece).slice(-ID_WINDOW);
    skipped.digest.add(lastPiece);
    this.oninvalid?.(
      idOfOversized(skipped.head, tail),
      INVALID_REQUEST,
      `message longer than ${this.#maxLineChars} bytes refused (the line size limit)`,
      skipped.digest.finish(methodOfUnread(skipped.head, tail.replace(/\r$/, ''))),
    );
  }

  #line(raw: string): void {
    const line = withoutByteOrderMark(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    if (line.trim() === '') return;
    let parsed: ReturnType<typeof parseFiniteJson>;
    try {
      parsed = parseFiniteJson(line);
    } catch {
      // Not the parser's message: it quotes the line's first characters, which may be a secret's
      // (a server printing its token), too few of them for SecretValues to recognise. `quote`
      // masks the line before it cuts it.
      this.oninvalid?.(
        null,
        PARSE_ERROR,
        `not JSON (a line of ${line.length} characters; ${this.#quoted(line)})`,
      );
      return;
    }
    if (parsed.outOfRange !== undefined) {
      // Forwarded, it would arrive as null; recorded, it has no digest: refused like bad JSON.
      const { id, method } = (parsed.value ?? {}) as { id?: unknown; method?: unknown };
      this.oninvalid?.(
        typeof id === 'string' || typeof id === 'number' ? id : null,
        INVALID_REQUEST,
        numberOutOfRange('message', parsed.outOfRange),
        unreadMessage(line, typeof method === 'string' && method !== '' ? method : undefined),
      );
      return;
    }
    this.onmessage?.(parsed.value, raw.length);
  }

  #quoted(line: string): string {
    if (this.#quote === undefined) return 'not quoted';
    try {
      return `it reads "${this.#quote(line)}"`;
    } catch {
      return 'not quoted';
    }
  }

  readonly #onEnd = (): void => {
    // Read on while paused (`control`), the input may end before what is in flight is answered:
    // closed on resume, as a stopped input's end is only seen then.
    if (
      this.#held !== undefined ||
      this.#heldLines.length > 0 ||
      (this.#paused && this.#control !== undefined)
    ) {
      this.#endedHeld = true;
      return;
    }
    void this.close();
  };

  readonly #onError = (error: Error): void => {
    this.onerror?.(error);
  };

  readonly #onOutputError = (error: Error): void => {
    this.onerror?.(error);
    this.#onOutputGone();
  };

  /**
   * The peer stopped reading (a stdio client that closed the bridge's stdout: EPIPE on the next
   * write): whatever is read from the input now could never be answered, so the transport closes
   * as if the input had ended, and what is in flight gets its receipt, instead of reading on
   * into a session that can no longer answer. Paused or holding lines, too: nothing held can be
   * answered either.
   */
  readonly #onOutputGone = (): void => {
    if (this.#outputGone) return;
    this.#outputGone = true;
    void this.close();
  };
}

const ID_VALUE = String.raw`(-?\d+|"(?:[^"\\]|\\.){0,256}")`;
const ID_FIRST = new RegExp(
  String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${ID_VALUE}\s*,`,
);
const ID_LAST = new RegExp(String.raw`,\s*"id"\s*:\s*${ID_VALUE}\s*\}\s*\r?$`);

/**
 * The top-level id of a message too long to parse, when it sits first or last
 * in the object (where JSON-RPC writers put it), so its caller can be answered.
 * Anchored at the object's own braces: an "id" inside params or result cannot match.
 */
export function idOfOversized(head: string, tail: string): JsonRpcId | null {
  const found = ID_FIRST.exec(head)?.[1] ?? ID_LAST.exec(tail)?.[1];
  if (found === undefined) return null;
  try {
    const id = JSON.parse(found) as unknown;
    return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : null;
  } catch {
    return null;
  }
}
