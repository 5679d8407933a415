import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, initialized, rawHarness } from './raw-harness.js';

/**
 * A client's tools/call that arrives while its server restarts waits for the
 * server before its checks run. A cancel sent meanwhile was matched to
 * nothing, so the call was checked and sent once the server came up. The
 * attack on a real bridge over a real server process, killed with SIGKILL and
 * held (by a file) before it answers initialize on its restart.
 */
describe('a client cancel of a call waiting for a restarting server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-cancel-restart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['tools/call', 'echo'],
    ['resources/read', 'resources/read:file:///cancelled-while-waiting'],
  ])(
    'attack: %s then notifications/cancelled while the server restarts: never sent, not answered, one receipt cancelled and not forwarded',
    async (method, recorded) => {
      const own = mkdtempSync(join(dir, 'case-'));
      const starts = join(own, 'starts');
      const hold = join(own, 'hold-init');
      const raw = await rawHarness({ env: { RAW_STARTS: starts, RAW_HOLD_INIT: hold } });
      try {
        await initialized(raw);
        const call = (id: number, marker: string) => ({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'echo', arguments: { marker } },
        });
        expect(await raw.request(call(1, 'before'))).toHaveProperty('result');
        const pids = () =>
          readFileSync(starts, 'utf8')
            .split('\n')
            .filter((line) => line !== '');
        const initializes = () => raw.serverGot().filter((message) => message.method === 'initialize').length;
        writeFileSync(hold, '');
        process.kill(Number(pids().at(-1)), 'SIGKILL');
        await eventually(
          () => pids().length === 2 && initializes() === 2,
          'the restarted server to be asked initialize',
        );

        raw.send(
          method === 'tools/call'
            ? call(2, 'cancelled-while-waiting')
            : { jsonrpc: '2.0', id: 2, method, params: { uri: 'file:///cancelled-while-waiting' } },
        );
        raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2 } });
        rmSync(hold);
        expect(await raw.request(call(3, 'after'))).toHaveProperty('result');

        const calls = raw
          .serverGot()
          .filter((message) => message.method === 'tools/call' || message.method === method);
        expect(JSON.stringify(calls)).toContain('"after"');
        expect(JSON.stringify(calls)).not.toContain('cancelled-while-waiting');
        expect(raw.received.filter((message) => message.id === 2)).toEqual([]);
        await eventually(() => raw.receipts.records.length === 3, 'three receipts');
        expect(raw.receipts.records.map((record) => [record.outcome, record.forwarded])).toEqual([
          ['result', undefined],
          ['cancelled', false],
          ['result', undefined],
        ]);
        expect(raw.receipts.records[1]?.tool).toBe(recorded);
      } finally {
        await raw.close();
      }
    },
  );
});
