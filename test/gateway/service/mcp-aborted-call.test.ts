import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, RAW_SERVER } from '../../mcp/raw-harness.js';
import { MANIFEST, startGateway, type TestGateway } from './harness.js';

/**
 * Closing note 5: a gateway request for an MCP tool that its client dropped ran on upstream
 * to its answer. The attack: an agent's HTTP client starts a call of a tool that never
 * answers (a real MCP server process, hand-written so it logs every message it receives)
 * and drops the request. The server is sent notifications/cancelled for exactly the request
 * id it was given, and the call has one receipt, saying cancelled and forwarded.
 *
 * Closing note 6: a call dropped before it reached the server (the server restarting, slow to
 * answer initialize, the call queued for it) was sent once the server came up, and ran. It is
 * withdrawn: never sent, one receipt saying cancelled, not forwarded.
 */
describe('an MCP tool call through the gateway whose HTTP request is dropped', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-mcp-abort-'));
  const serverLog = join(dir, 'server.jsonl');
  const starts = join(dir, 'starts');
  // While this file exists, a starting server holds its answer to initialize.
  const holdInit = join(dir, 'hold-init');
  beforeAll(async () => {
    gw = await startGateway({
      config: {
        mcp: {
          servers: [
            {
              name: 'raw',
              command: process.execPath,
              args: [RAW_SERVER],
              tier: 'light',
              allow_env: ['RAW_LOG', 'RAW_STARTS', 'RAW_HOLD_INIT'],
            },
            {
              name: 'gated',
              command: process.execPath,
              args: [RAW_SERVER],
              // Calls wait for approval: never the light tier, whose server could approve them itself.
              tier: 'hardened',
              allow_env: ['RAW_LOG'],
              allow_files: [`${dir}:rw`],
              require_approval: ['echo'],
            },
          ],
        },
      },
      env: {
        OACP_MASTER_KEY: '11'.repeat(32),
        RAW_LOG: serverLog,
        RAW_STARTS: starts,
        RAW_HOLD_INIT: holdInit,
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const received = (): Record<string, unknown>[] =>
    existsSync(serverLog)
      ? readFileSync(serverLog, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Record<string, unknown>)
      : [];
  const receiptsOf = async (tool: string) => {
    const response = await fetch(new URL(`/v1/receipts?tool=${tool}`, gw.url), {
      headers: { authorization: `Bearer ${gw.adminKey}` },
    });
    return ((await response.json()) as { entries: Record<string, unknown>[] }).entries;
  };
  const predicateOf = async (index: number) => {
    const bytes = await gw.gateway.node.log.entry(index);
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload: string };
    return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate as Record<
      string,
      unknown
    >;
  };
  /** Tool calls of this agent the gateway's quota has counted: each one decided and allowed. */
  const callsCounted = async (agent: string): Promise<number> => {
    const text = await (
      await fetch(new URL('/metrics', gw.url), { headers: { authorization: `Bearer ${gw.adminKey}` } })
    ).text();
    const line = text
      .split('\n')
      .find(
        (row) =>
          row.startsWith('oacp_quota_consumed{') &&
          row.includes('resource="tool_calls"') &&
          row.includes(`agent="${agent}"`),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('attack: the request is dropped while the server holds the call: it is cancelled upstream, one receipt says so', async () => {
    const manifest = { ...MANIFEST, capabilities: { tools: { allow: ['raw__*'] } } };
    const agent = await gw.client.createAgent({ name: 'leaver', manifest });
    const post = request(new URL('/v1/tools/raw__hang/call', gw.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    });
    post.on('error', () => undefined);
    post.end(JSON.stringify({ agent: agent.id, arguments: { marker: 'dropped' } }));
    const forwarded = () =>
      received().find(
        (message) =>
          message.method === 'tools/call' &&
          (message.params as { name?: string } | undefined)?.name === 'hang',
      );
    await eventually(() => forwarded() !== undefined, 'the server to receive the call');
    post.destroy();
    const cancel = () => received().find((message) => message.method === 'notifications/cancelled');
    await eventually(() => cancel() !== undefined, 'the server to be told the call is cancelled');
    expect(cancel()?.params).toMatchObject({ requestId: forwarded()?.id });

    let entries: Record<string, unknown>[] = [];
    for (let i = 0; i < 200 && entries.length === 0; i++) {
      entries = await receiptsOf('hang');
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A later call answers: every receipt of the cancelled one is in by then.
    const echo = await gw.client.callTool('raw__echo', { after: true }, { agent: agent.id });
    expect(echo.isError).toBe(false);
    entries = await receiptsOf('hang');
    expect(entries).toHaveLength(1);
    const bytes = await gw.gateway.node.log.entry(entries[0]?.index as number);
    const envelope = JSON.parse(Buffer.from(bytes).toString('utf8')) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement.predicate).toMatchObject({ outcome: 'cancelled', forwarded: true });
  });

  it('attack: the request is dropped while the call waits for a restarting server: it is never sent, one receipt says cancelled, not forwarded', async () => {
    const manifest = { ...MANIFEST, capabilities: { tools: { allow: ['raw__*'] } } };
    const agent = await gw.client.createAgent({ name: 'early-leaver', manifest });
    const pids = () =>
      readFileSync(starts, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
    const initializes = () => received().filter((message) => message.method === 'initialize').length;
    const before = { starts: pids().length, initializes: initializes() };
    // The first test called echo too: only this test's receipts count.
    const seen = new Set((await receiptsOf('echo')).map((entry) => entry.index));
    const echoesSince = async () => (await receiptsOf('echo')).filter((entry) => !seen.has(entry.index));
    // The server dies (kill -9); its restart is held before it answers initialize.
    writeFileSync(holdInit, '');
    process.kill(Number(pids().at(-1)), 'SIGKILL');
    await eventually(
      () => pids().length > before.starts && initializes() > before.initializes,
      'the restarted server to be asked initialize',
    );

    const post = request(new URL('/v1/tools/raw__echo/call', gw.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    });
    post.on('error', () => undefined);
    post.end(JSON.stringify({ agent: agent.id, arguments: { marker: 'queued-then-dropped' } }));
    // Counted by the quota: decided, allowed, and now waiting for the server.
    for (let i = 0; i < 400 && (await callsCounted('early-leaver')) === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await callsCounted('early-leaver')).toBe(1);
    post.destroy();
    let entries: Record<string, unknown>[] = [];
    for (let i = 0; i < 400 && entries.length === 0; i++) {
      entries = await echoesSince();
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(entries).toHaveLength(1);
    expect(await predicateOf(entries[0]?.index as number)).toMatchObject({
      outcome: 'cancelled',
      forwarded: false,
    });

    // The server comes up; a later call is sent after everything that waited, and answered.
    rmSync(holdInit);
    const after = await gw.client.callTool('raw__echo', { marker: 'after' }, { agent: agent.id });
    expect(after.isError).toBe(false);
    const calls = received().filter((message) => message.method === 'tools/call');
    expect(JSON.stringify(calls)).toContain('"after"');
    expect(JSON.stringify(calls)).not.toContain('queued-then-dropped');
    const outcomes = await Promise.all(
      (await echoesSince()).map(async (entry) => (await predicateOf(entry.index as number)).outcome),
    );
    expect(outcomes.sort()).toEqual(['cancelled', 'result']);
  });

  it("attack: the request is dropped while the call awaits an operator's approval: it is never sent, one receipt says cancelled, not forwarded", async () => {
    const manifest = { ...MANIFEST, capabilities: { tools: { allow: ['gated__*'] } } };
    const agent = await gw.client.createAgent({ name: 'impatient', manifest });
    const seen = new Set((await receiptsOf('echo')).map((entry) => entry.index));
    const pending = async () =>
      (
        (await (
          await fetch(new URL('/v1/approvals', gw.url), {
            headers: { authorization: `Bearer ${gw.adminKey}` },
          })
        ).json()) as { pending: unknown[] }
      ).pending;
    const post = request(new URL('/v1/tools/gated__echo/call', gw.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    });
    post.on('error', () => undefined);
    post.end(JSON.stringify({ agent: agent.id, arguments: { marker: 'awaiting-approval' } }));
    for (let i = 0; i < 400 && (await pending()).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await pending()).toHaveLength(1);
    post.destroy();

    let entries: Record<string, unknown>[] = [];
    for (let i = 0; i < 400 && entries.length === 0; i++) {
      entries = (await receiptsOf('echo')).filter((entry) => !seen.has(entry.index));
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(entries).toHaveLength(1);
    expect(await predicateOf(entries[0]?.index as number)).toMatchObject({
      outcome: 'cancelled',
      forwarded: false,
    });
    expect(await pending()).toHaveLength(0);
    expect(JSON.stringify(received())).not.toContain('awaiting-approval');
  });
});
