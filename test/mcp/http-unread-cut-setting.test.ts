import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMcpRunOptions } from '../../src/mcp/options.js';
import { UNREAD_CUT_LINES_PER_MINUTE } from '../../src/mcp/unread-cut-log.js';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const MIB = 1024 * 1024;
const ANSWER = 8 * MIB;
const CLIENTS = UNREAD_CUT_LINES_PER_MINUTE + 4;

/** Resolves once `check` holds, polling; fails past `timeoutMs` (generous: a loaded host is slow). */
async function until(check: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const CUT_LINE =
  /oacp: an answer of which \d+ bytes were unread by its client was cut and its connection closed: the bridge holds at most 1048576 bytes of answers its clients have not read \(--max-unread-answer-bytes\)/g;

/**
 * `oacp mcp run --http --max-unread-answer-bytes N` sets the bound of bytes held for clients that
 * never read their answers (64 MiB without it); each cut is logged naming the flag, at most
 * UNREAD_CUT_LINES_PER_MINUTE lines a minute, the rest said once as a count.
 */
describe('oacp mcp run --http --max-unread-answer-bytes', () => {
  const bridges: CliHttpBridge[] = [];
  afterAll(async () => {
    for (const bridge of bridges) await bridge.close();
  });

  it('refuses a value that is not a byte count in range, naming the flag', () => {
    const run = (value: unknown) => () =>
      parseMcpRunOptions({ command: ['x'], http: '127.0.0.1:0', maxUnreadAnswerBytes: value });
    expect(run('1000')).toThrow(
      '--max-unread-answer-bytes 1000: must be from 1048576 (1 MiB) to 17179869184 (16 GiB)',
    );
    expect(run('64m')).toThrow(
      '--max-unread-answer-bytes 64m: must be a whole number of bytes such as 67108864',
    );
    expect(
      parseMcpRunOptions({ command: ['x'], maxUnreadAnswerBytes: String(2 * MIB) }).maxUnreadAnswerBytes,
    ).toBe(2 * MIB);
  });

  it(`attack: ${CLIENTS} clients each ask for ${ANSWER / MIB} MiB and never read: under a 1 MiB bound each cut or read whole (the last answer held never cut), ${UNREAD_CUT_LINES_PER_MINUTE} lines name the flag, the rest are one count`, async () => {
    const bridge = await startCliHttpBridge(
      'oacp-unread-cut-',
      ['--max-unread-answer-bytes', String(MIB)],
      'light',
      undefined,
      RAW_SERVER,
    );
    bridges.push(bridge);
    const headers = {
      ...bridge.headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const started = await fetch(bridge.url, { method: 'POST', headers, body: JSON.stringify(INITIALIZE) });
    expect(started.status).toBe(200);
    const session = started.headers.get('mcp-session-id') ?? '';
    await started.text();
    const closed = new Set<number>();
    const received = Array.from({ length: CLIENTS }, () => 0);
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: i + 10,
        method: 'tools/call',
        params: { name: 'large', arguments: { bytes: ANSWER } },
      });
      const socket = connect(Number(bridge.url.port), bridge.url.hostname);
      socket.on('error', () => undefined);
      socket.on('close', () => closed.add(i));
      socket.on('data', (data: Buffer) => {
        received[i] = (received[i] ?? 0) + data.length;
      });
      socket.write(
        `POST ${bridge.url.pathname} HTTP/1.1\r\nHost: ${bridge.url.host}\r\n` +
          Object.entries({ ...headers, 'mcp-session-id': session, 'content-length': Buffer.byteLength(body) })
            .map(([name, value]) => `${name}: ${value}\r\n`)
            .join('') +
          `\r\n${body}`,
      );
      // This client never reads what comes back.
      socket.pause();
      sockets.push(socket);
    }
    try {
      // Under the 64 MiB default, 14 answers of 8 MiB would mostly be held; under 1 MiB most are cut.
      await until(
        () => (bridge.stderr().match(CUT_LINE) ?? []).length >= UNREAD_CUT_LINES_PER_MINUTE,
        'the cuts logged',
      );
      // Read now, each client finds its answer either cut (its connection closed before the answer's
      // end) or whole: the last answer held is never cut, and once the kernel's socket buffers took
      // all of one (they hold several MiB on loopback), the bridge holds none of it.
      for (const socket of sockets) socket.resume();
      await until(
        () => received.every((bytes, i) => bytes >= ANSWER || closed.has(i)),
        'every answer cut or read whole',
      );
      const cut = received.filter((bytes) => bytes < ANSWER).length;
      expect(cut).toBeGreaterThanOrEqual(UNREAD_CUT_LINES_PER_MINUTE);
      await bridge.stop();
      const stderr = bridge.stderr();
      expect(stderr.match(CUT_LINE)).toHaveLength(UNREAD_CUT_LINES_PER_MINUTE);
      // On close, the cuts past the limit (if any: some answers may have been read whole) are said
      // once as a count, naming the flag; src/mcp/unread-cut-log.test.ts holds the count exactly.
      if (cut > UNREAD_CUT_LINES_PER_MINUTE)
        expect(stderr).toMatch(
          new RegExp(
            `oacp: ${cut - UNREAD_CUT_LINES_PER_MINUTE} more answer\\(s\\) unread by their clients cut from \\S+ to \\S+, not logged one by one \\(at most ${UNREAD_CUT_LINES_PER_MINUTE} lines a minute; --max-unread-answer-bytes sets the bound\\)`,
          ),
        );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 180_000);
});
