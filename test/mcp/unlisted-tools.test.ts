import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inProcess, lightUpstream, text as resultText, SERVERS } from './helpers.js';
import { eventually, INITIALIZE, type RawHarness, rawHarness } from './raw-harness.js';

type Message = Record<string, unknown>;

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

const listings = (raw: RawHarness) => raw.serverGot().filter((message) => message.method === 'tools/list');
const callsSent = (raw: RawHarness) => raw.serverGot().filter((message) => message.method === 'tools/call');
const text = (answer: Message) => JSON.stringify(answer.result ?? answer.error);

/**
 * A call the bridge decides before it has any listing of the tool (a client that calls without
 * listing, or without even saying it is initialized, so no listing of the bridge's is under way)
 * used to be checked against no argument names: `PATH` passed a policy on `path` and a Go server
 * read it as `path`. Now such a call waits for the bridge's own tools/list (shared, bounded by the
 * request deadline), and a tool its server does not list, or a listing that fails, is refused
 * with a receipt (`oacp/shape`), never sent.
 */
describe('a call to a tool the bridge has no listing of', () => {
  it('attack: `PATH` for the listed `path`, from a client that never lists and never says it is initialized, is refused', async () => {
    const raw = await rawHarness();
    try {
      await raw.request(INITIALIZE);
      const answer = await raw.request(call(1, 'write_file', { PATH: '/etc/shadow' }));
      expect(text(answer)).toContain('which is not \\"path\\"');
      expect(text(answer)).toContain('oacp/receipt');
      expect(callsSent(raw)).toEqual([]);
      // The bridge listed the tools itself, once, to decide it.
      expect(listings(raw)).toHaveLength(1);
      const [record] = raw.receipts.records;
      expect(record?.outcome).toBe('denied');
      expect(record?.checks.shape?.effect).toBe('deny');
      // A listed tool called with its listed names goes through, with no second listing.
      const fine = await raw.request(call(2, 'write_file', { path: '/data/x' }));
      expect(text(fine)).toContain('/data/x');
      expect(listings(raw)).toHaveLength(1);
    } finally {
      await raw.close();
    }
  });

  it('attack: a tool the server does not list (a server that runs any name it is sent) is refused with a receipt, never sent', async () => {
    const raw = await rawHarness();
    try {
      await raw.request(INITIALIZE);
      raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // Concurrent callers wait for one listing together.
      const answers = await Promise.all([
        raw.request(call(1, 'unlisted-tool', { path: '/etc/shadow' })),
        raw.request(call(2, 'also-unlisted')),
        raw.request(call(3, 'echo', { ok: 1 })),
      ]);
      expect(text(answers[0] as Message)).toContain(
        'tool \\"unlisted-tool\\" is not in the tools/list of server \\"raw\\"',
      );
      expect(text(answers[1] as Message)).toContain('tool \\"also-unlisted\\" is not in the tools/list');
      expect(text(answers[2] as Message)).toContain('{\\"ok\\":1}');
      expect(listings(raw).length).toBeLessThanOrEqual(2);
      expect(callsSent(raw).map((message) => (message.params as Message).name)).toEqual(['echo']);
      const refused = raw.receipts.records.filter((record) => record.outcome === 'denied');
      expect(refused.map((record) => record.tool).sort()).toEqual(['also-unlisted', 'unlisted-tool']);
      for (const record of refused) expect(record.checks.shape?.effect).toBe('deny');
    } finally {
      await raw.close();
    }
  });

  it('a listing that fails, or pages in a loop, refuses the call with the reason (deny by default)', async () => {
    for (const [env, reason] of [
      [{ RAW_LIST_FAILS: '1' }, 'listing is broken'],
      [{ RAW_LIST_PAGES: 'loop' }, 'tools/list pages in a loop'],
    ] as const) {
      const raw = await rawHarness({ env });
      try {
        await raw.request(INITIALIZE);
        const answer = await raw.request(call(1, 'echo', { a: 1 }));
        expect(text(answer)).toContain('the bridge could not list the tools of server \\"raw\\"');
        expect(text(answer)).toContain(reason);
        expect(callsSent(raw)).toEqual([]);
        expect(raw.receipts.records[0]?.outcome).toBe('denied');
      } finally {
        await raw.close();
      }
    }
  });

  it('a listing that does not finish within the request deadline refuses the call', async () => {
    // The server never answers tools/list.
    const raw = await rawHarness({ requestTimeoutMs: 500, env: { RAW_LIST_HANG: '1' } });
    try {
      await raw.request(INITIALIZE);
      const answer = await raw.request(call(1, 'echo'));
      expect(text(answer)).toMatch(/did not finish within 0\.5 s|could not list the tools/);
      expect(callsSent(raw)).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('follows list_changed: a tool added is called, checked against its new schema; a tool removed is refused', async () => {
    const raw = await rawHarness({ env: { RAW_CHANGES: '1' } });
    try {
      await raw.request(INITIALIZE);
      raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(text(await raw.request(call(1, 'echo', { a: 1 })))).toContain('{\\"a\\":1}');
      expect(text(await raw.request(call(2, 'change-tools')))).toContain('changed');
      await eventually(() => listings(raw).length >= 2, 'the listing after list_changed');
      // Listed after the change: its schema's names are checked.
      const twin = await raw.request(call(3, 'added', { PATH: '/etc/shadow' }));
      expect(text(twin)).toContain('which is not \\"path\\"');
      expect(text(await raw.request(call(4, 'added', { path: '/data/x' })))).toContain('/data/x');
      const removed = await raw.request(call(5, 'echo', { a: 2 }));
      expect(text(removed)).toContain('tool \\"echo\\" is not in the tools/list of server \\"raw\\"');
      expect(callsSent(raw).map((message) => (message.params as Message).name)).toEqual([
        'echo',
        'change-tools',
        'added',
      ]);
    } finally {
      await raw.close();
    }
  });

  it('with the real memory server and the SDK client: listed tools run, a name it does not list is refused with a receipt', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'oacp-unlisted-')), 'memory.jsonl');
    const harness = await inProcess(
      lightUpstream('memory', [SERVERS.memory], { env: { MEMORY_FILE_PATH: file } }),
      { via: 'stdio' },
    );
    try {
      const graph = await harness.client.callTool({ name: 'read_graph', arguments: {} });
      expect(graph.isError).not.toBe(true);
      const refused = await harness.client.callTool({ name: 'drop_graph', arguments: {} });
      expect(refused.isError).toBe(true);
      expect(resultText(refused)).toContain('tool "drop_graph" is not in the tools/list of server "memory"');
      expect(harness.receipts.records.map((record) => [record.tool, record.outcome])).toEqual([
        ['read_graph', 'result'],
        ['drop_graph', 'denied'],
      ]);
    } finally {
      await harness.close();
    }
  });
});
