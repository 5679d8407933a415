import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineTransport } from './line-transport.js';

function pair(maxLineBytes?: number) {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = new LineTransport(input, output, maxLineBytes === undefined ? {} : { maxLineBytes });
  const messages: unknown[] = [];
  const invalid: [unknown, number, string][] = [];
  transport.onmessage = (message) => messages.push(message);
  transport.oninvalid = (id, code, reason) => invalid.push([id, code, reason]);
  return { input, output, transport, messages, invalid };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('LineTransport', () => {
  it('splits messages on newlines across chunk boundaries and multi-byte characters', async () => {
    const { input, transport, messages } = pair();
    await transport.start();
    const line = Buffer.from('{"jsonrpc":"2.0","method":"note","params":{"text":"héllo ✓"}}\r\n{"a":1}\n');
    for (const byte of line) input.write(Buffer.from([byte]));
    await tick();
    expect(messages).toEqual([{ jsonrpc: '2.0', method: 'note', params: { text: 'héllo ✓' } }, { a: 1 }]);
  });

  it('reports a line that is not JSON and keeps reading', async () => {
    const { input, transport, messages, invalid } = pair();
    await transport.start();
    input.write('nope\n\n{"ok":true}\n');
    await tick();
    expect(invalid).toEqual([[null, -32700, expect.stringMatching(/^not JSON/)]]);
    expect(messages).toEqual([{ ok: true }]);
  });

  it('skips a line longer than the limit without buffering it', async () => {
    const { input, transport, messages, invalid } = pair(16);
    await transport.start();
    input.write('{"x":"0123456789012345678901234567890"');
    input.write('more of the same line');
    input.write('"}\n{"y":1}\n');
    await tick();
    expect(invalid).toHaveLength(1);
    expect(invalid[0]?.[2]).toMatch(/longer than 16 bytes/);
    expect(messages).toEqual([{ y: 1 }]);
  });

  it('writes one line per message and closes when its input ends', async () => {
    const { input, output, transport } = pair();
    let closed = false;
    transport.onclose = () => {
      closed = true;
    };
    await transport.start();
    const written: string[] = [];
    output.on('data', (chunk: Buffer) => written.push(chunk.toString()));
    await transport.send({ jsonrpc: '2.0', method: 'x' });
    await tick();
    expect(written.join('')).toBe('{"jsonrpc":"2.0","method":"x"}\n');
    input.end();
    await tick();
    expect(closed).toBe(true);
  });
});
