import { describe, expect, it } from 'vitest';
import { frontHarness } from './front-harness.js';
import { eventually, INITIALIZE, initialized, rawHarness } from './raw-harness.js';

/**
 * The `--config` front collects every page of each server's lists to answer its client with one
 * list. A server whose `nextCursor` points back at itself was followed 1000 times and its tool
 * answered 1000 times over; one whose pages never end was followed until 1000 pages of whatever
 * size were held. Both are refused now, saying why.
 */
describe('the --config front: a server paging without end', () => {
  for (const [mode, pad, why] of [
    ['loop', 0, /tools\/list of "raw" pages in a loop: the cursor "again" came back/],
    ['endless', 1024 * 1024, /tools\/list of "raw" is over \d+ bytes after \d+ pages/],
  ] as const) {
    it(`attack: tools/list whose nextCursor ${mode === 'loop' ? 'repeats' : 'never ends (1 MiB pages)'}: answered with an error naming the server and why, the front still serves`, async () => {
      const { send, answerTo, close } = await frontHarness({
        over: 'sdk',
        serverEnv: { RAW_LIST_PAGES: mode, RAW_LIST_PAD: String(pad) },
        answerWithinMs: 60_000,
      });
      try {
        send(INITIALIZE);
        await answerTo('init');
        send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        send({ jsonrpc: '2.0', id: 'list', method: 'tools/list', params: {} });
        const listed = await answerTo('list');
        expect(listed.result).toBeUndefined();
        expect((listed.error as { message: string }).message).toMatch(why);
        send({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
        expect((await answerTo('ping')).result).toEqual({});
      } finally {
        await close();
      }
    }, 90_000);
  }
});

describe('a single server paging its tools in a loop', () => {
  it('attack: the bridge pinning the tools stops at the repeated cursor and reports it, at once, not after 1000 pages', async () => {
    const raw = await rawHarness({ env: { RAW_LIST_PAGES: 'loop' } });
    try {
      await initialized(raw);
      await eventually(
        () => raw.events.some((e) => e.type === 'pin-refresh-failed'),
        'a pin-refresh-failed event',
      );
      expect(raw.events.find((e) => e.type === 'pin-refresh-failed')).toMatchObject({
        reason: expect.stringMatching(
          /tools\/list pages in a loop: the cursor "again" came back after 2 pages/,
        ),
      });
      expect(raw.serverGot().filter((message) => message.method === 'tools/list')).toHaveLength(2);
    } finally {
      await raw.close();
    }
  });
});
