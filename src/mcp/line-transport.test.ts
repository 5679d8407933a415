import { PassThrough, Writable } from 'node:stream';
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

  it('paused between two lines of one chunk, delivers none of the rest until resumed, then all in order (and closes after them when the input ended meanwhile)', async () => {
    const { input, transport, messages } = pair();
    const sizes: (number | undefined)[] = [];
    transport.onmessage = (message, bytes) => {
      messages.push(message);
      sizes.push(bytes);
      if (messages.length === 2 || messages.length === 4) transport.pause();
    };
    let closed = false;
    transport.onclose = () => {
      closed = true;
    };
    await transport.start();
    input.end('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n{"n":5}\n{"n":');
    await tick();
    expect(messages).toEqual([{ n: 1 }, { n: 2 }]);
    expect(sizes).toEqual([7, 7]);
    await tick();
    expect(messages).toHaveLength(2);
    expect(closed).toBe(false);
    transport.resume();
    expect(messages).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    transport.resume();
    await tick();
    expect(messages).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    expect(closed).toBe(true);
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

  it('attack: a reply over the cap is answered to its caller: the id is found at the start or the end of the line', async () => {
    const { input, transport, messages, invalid } = pair(64);
    await transport.start();
    const big = 'x'.repeat(200);
    input.write(`{"jsonrpc":"2.0","id":7,"result":{"text":"${big}`);
    input.write(`${big}"}}\n`);
    input.write(`{"result":{"content":[{"id":99,"text":"${big}"}]},"jsonrpc":"2.0","id":"abc"}\n`);
    input.write(`{"result":{"text":"${big}","nested":{"id":5}}}\n`);
    input.write('{"y":1}\n');
    await tick();
    expect(invalid.map(([id]) => id)).toEqual([7, 'abc', null]);
    expect(invalid[0]?.[2]).toMatch(/longer than 64 bytes/);
    expect(messages).toEqual([{ y: 1 }]);
  });

  it('attack: sending a 10,000-deep value rejects with a typed error instead of throwing', async () => {
    const { transport } = pair();
    await transport.start();
    const deep = JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) as unknown;
    await expect(
      transport.send({ jsonrpc: '2.0', id: 1, method: 'x', params: { deep } as Record<string, unknown> }),
    ).rejects.toMatchObject({ code: 'MCP_MESSAGE_REFUSED' });
  });

  it('sends the messages of one tick in one write, in order, and a later tick in its own', async () => {
    const writes: string[][] = [];
    const output = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _encoding, done) {
        writes.push([chunk.toString()]);
        setImmediate(done);
      },
      writev(chunks, done) {
        writes.push(chunks.map(({ chunk }) => String(chunk)));
        setImmediate(done);
      },
    });
    const transport = new LineTransport(new PassThrough(), output);
    await transport.start();
    const sent = [1, 2, 3].map((id) => transport.send({ jsonrpc: '2.0', id, result: {} }));
    // Past the stream's high-water mark: the third resolves only once the batch has drained.
    let drained = false;
    void sent[2]?.then(() => {
      drained = true;
    });
    expect(writes).toEqual([]);
    await Promise.all(sent);
    expect(drained).toBe(true);
    await transport.send({ jsonrpc: '2.0', id: 4, result: {} });
    await tick();
    const line = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{}}\n`;
    expect(writes).toEqual([[line(1), line(2), line(3)], [line(4)]]);
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
