import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { INVALID_REQUEST, type JsonRpcId, type JsonRpcMessage, PARSE_ERROR } from './jsonrpc.js';
import type { MessageTransport } from './transport.js';

/** Larger single messages are refused (and the line skipped) rather than buffered without bound. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * MCP's stdio framing (one JSON-RPC message per line) over any pair of
 * streams: the bridge's own stdin/stdout, or a sandboxed server's pipes. Unlike
 * the SDK's stdio transports it reports lines that are not JSON-RPC through
 * `oninvalid` and keeps reading, so one bad line never ends a session.
 */
export class LineTransport implements MessageTransport {
  onmessage?: ((message: unknown) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  oninvalid?: ((id: JsonRpcId | null, code: number, reason: string) => void) | undefined;

  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxLineChars: number;
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  #skipping = false;
  #closed = false;

  constructor(input: Readable, output: Writable, options: { maxLineBytes?: number } = {}) {
    this.#input = input;
    this.#output = output;
    this.#maxLineChars = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  async start(): Promise<void> {
    this.#input.on('data', this.#onData);
    this.#input.once('end', this.#onEnd);
    this.#input.once('close', this.#onEnd);
    this.#input.on('error', this.#onError);
    this.#output.on('error', this.#onError);
  }

  send(message: JsonRpcMessage): Promise<void> {
    if (this.#closed || this.#output.destroyed || !this.#output.writable) return Promise.resolve();
    const line = `${JSON.stringify(message)}\n`;
    return new Promise((resolve) => {
      if (this.#output.write(line)) resolve();
      else this.#output.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off('data', this.#onData);
    this.#input.off('end', this.#onEnd);
    this.#input.off('close', this.#onEnd);
    this.onclose?.();
  }

  readonly #onData = (chunk: Buffer | string): void => {
    let text = this.#pending + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    this.#pending = '';
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      // The tail of an oversized line ends here; it was reported when it grew too long.
      if (this.#skipping) this.#skipping = false;
      else this.#line(line);
      newline = text.indexOf('\n');
    }
    if (this.#skipping) return;
    if (text.length > this.#maxLineChars) {
      this.#skipping = true;
      this.oninvalid?.(null, INVALID_REQUEST, `message longer than ${this.#maxLineChars} bytes skipped`);
      return;
    }
    this.#pending = text;
  };

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      this.oninvalid?.(
        null,
        PARSE_ERROR,
        `not JSON: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    this.onmessage?.(value);
  }

  readonly #onEnd = (): void => {
    void this.close();
  };

  readonly #onError = (error: Error): void => {
    this.onerror?.(error);
  };
}
