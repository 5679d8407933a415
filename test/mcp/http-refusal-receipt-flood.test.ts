import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_SUPPRESSED_REFUSALS } from '../../src/mcp/refusal-receipts.js';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const FLOOD = 120;
const LIMIT = 5;

/** One JSON-RPC POST to the session; the answer's JSON (an SSE answer's `data:` line). */
async function post(bridge: CliHttpBridge, session: string | undefined, body: unknown): Promise<Response> {
  return fetch(bridge.url, {
    method: 'POST',
    headers: {
      ...HEADERS,
      ...bridge.headers,
      ...(session === undefined ? {} : { 'mcp-session-id': session }),
    },
    body: JSON.stringify(body),
  });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  const data = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
  return JSON.parse(data) as Record<string, unknown>;
}

/**
 * `oacp mcp run --http --refusal-receipts N`: any local process could have the bridge write one
 * signed, fsynced receipt per refused message, without bound. A session's refusals past N a
 * minute (10·N for all sessions) are answered the same less their receipt, and counted in one
 * summary receipt (`mcp:refusals-suppressed`), written at the latest when the bridge stops. The
 * real CLI (dist) over a real `@modelcontextprotocol/server-memory`; the log read with `oacp log list`.
 */
describe('oacp mcp run --http --refusal-receipts: a flood of refused messages leaves a bounded log', () => {
  let bridge: CliHttpBridge;
  beforeAll(async () => {
    bridge = await startCliHttpBridge('oacp-refusal-receipts-', ['--refusal-receipts', String(LIMIT)]);
  }, 90_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it(`attack: ${FLOOD} refused tools/call (a method imitating it) get ${LIMIT} receipts and one summary of the rest`, async () => {
    const init = await post(bridge, undefined, {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'flood', version: '1' },
      },
    });
    const session = init.headers.get('mcp-session-id') ?? undefined;
    await init.text();
    expect(session).toBeDefined();
    await (await post(bridge, session, { jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    let receipted = 0;
    for (let i = 1; i <= FLOOD; i++) {
      const answer = await json(
        await post(bridge, session, {
          jsonrpc: '2.0',
          id: i,
          method: 'Tools/Call',
          params: { name: 'read_graph', arguments: {} },
        }),
      );
      const result = answer.result as {
        isError: boolean;
        _meta?: Record<string, unknown>;
        content: [{ text: string }];
      };
      expect(result.isError).toBe(true);
      if (result._meta?.['oacp/receipt'] !== undefined) receipted++;
      else expect(result.content[0].text).toContain('counted in a summary receipt');
    }
    expect(receipted).toBeGreaterThanOrEqual(LIMIT);
    expect(receipted).toBeLessThanOrEqual(LIMIT + 1);
    await bridge.stop();
    const listed = JSON.parse(
      execFileSync(
        process.execPath,
        [CLI, '--home', bridge.home, 'log', 'list', '--json', '--limit', '1000'],
        {
          env: { PATH: process.env.PATH ?? '', ...bridge.env },
          encoding: 'utf8',
        },
      ),
    ) as { entries: Array<{ tool: string; decision: string; reason?: string }> };
    const refusals = listed.entries.filter((entry) => entry.tool === 'read_graph');
    expect(refusals).toHaveLength(receipted);
    const summaries = listed.entries.filter((entry) => entry.tool === MCP_SUPPRESSED_REFUSALS);
    expect(summaries, JSON.stringify(listed.entries.slice(0, 3))).toHaveLength(1);
    // Every refusal is a receipt of its own or counted in the summary.
    expect(summaries[0]?.reason).toMatch(
      new RegExp(`^${FLOOD - receipted} refused client messages from 1 session `),
    );
    expect(listed.entries.length).toBeLessThan(FLOOD / 4);
  }, 180_000);
});
