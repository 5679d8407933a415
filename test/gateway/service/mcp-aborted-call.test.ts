import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
 */
describe('an MCP tool call through the gateway whose HTTP request is dropped', () => {
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'oacp-gw-mcp-abort-'));
  const serverLog = join(dir, 'server.jsonl');
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
              allow_env: ['RAW_LOG'],
            },
          ],
        },
      },
      env: { OACP_MASTER_KEY: '11'.repeat(32), RAW_LOG: serverLog },
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
});
