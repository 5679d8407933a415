import { PassThrough } from 'node:stream';
import type { Bridge } from '../../src/mcp/bridge.js';
import { serveStdio } from '../../src/mcp/stdio.js';

/**
 * A client of a bridge over stdio, line by line, through two PassThrough streams (no process):
 * it can stop reading the bridge's output and start again, and say how much of what it wrote the
 * bridge has not read yet.
 */
export interface StdioClient {
  readonly input: PassThrough;
  readonly output: PassThrough;
  /** Every line the bridge wrote, parsed, while the client read. */
  readonly lines: Record<string, unknown>[];
  send(message: unknown): void;
  /** Raw text to the bridge (several lines in one write, say). */
  write(text: string): void;
  /** The client stops reading the bridge's output. */
  stopReading(): void;
  /** The client reads again. */
  readAgain(): void;
  /** What the client wrote that the bridge has not read yet, in bytes. */
  unread(): number;
}

export async function stdioClient(bridge: Bridge): Promise<StdioClient> {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  const read = (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part) as Record<string, unknown>);
  };
  output.on('data', read);
  await serveStdio(bridge, input, output);
  return {
    input,
    output,
    lines,
    send: (message) => input.write(`${JSON.stringify(message)}\n`),
    write: (text) => input.write(text),
    stopReading: () => {
      output.off('data', read);
      output.pause();
    },
    readAgain: () => {
      output.on('data', read);
      output.resume();
    },
    unread: () => input.readableLength + input.writableLength,
  };
}
