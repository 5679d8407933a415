import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { lightUpstream, testClient, testReceipts } from './helpers.js';
import { alive, eventually, RAW_SERVER } from './raw-harness.js';

/**
 * Issue 10, item 5 (a session that cannot be brought down, nothing left
 * running): every `--http` session runs its own server, and sessions are not
 * authenticated, so what a local client can make the bridge start must be
 * bounded and must end.
 */

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
};

async function eventuallyAsync(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function startedPids(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

describe('--http: a refused initialize leaves no server behind', () => {
  it('attack: initializes the SDK refuses (no Accept header; two initializes in one batch) stop the server they started and hold no session slot', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-refused-init-')), 'pids');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts } }),
      receipts,
    });
    // One slot: a refused initialize that kept its server would keep the slot too, for good (it
    // never becomes a session, so neither DELETE nor the idle timeout could end it).
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none', maxSessions: 1 });
    try {
      const refused = [
        { headers: { 'content-type': 'application/json' }, body: JSON.stringify(INITIALIZE) },
        {
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify([INITIALIZE, { ...INITIALIZE, id: 2 }]),
        },
      ];
      for (const request of refused) {
        await eventually(() => !startedPids(starts).some(alive), 'every server started so far to stop');
        let status = 0;
        await eventuallyAsync(async () => {
          const answer = await fetch(http.url, { method: 'POST', ...request });
          status = answer.status;
          await answer.body?.cancel();
          return status !== 503;
        }, 'the slot of the last refused initialize to be free');
        expect([400, 406]).toContain(status);
      }
      await eventually(() => !startedPids(starts).some(alive), 'the servers of refused initializes to stop');
      const client = testClient();
      await eventuallyAsync(
        () =>
          client
            .connect(new StreamableHTTPClientTransport(http.url))
            .then(() => true)
            .catch(() => false),
        'a real session to get the one slot',
      );
      const result = await client.callTool({ name: 'echo', arguments: { still: 'here' } });
      expect(JSON.stringify(result.content)).toContain('here');
      await client.close();
    } finally {
      await http.close();
      await receipts.close();
    }
  });
});

describe('--http: sessions are bounded', () => {
  it('attack: initializes and SSE streams beyond --max-sessions get 503 naming the flag and start no server; ending a session frees its slot', async () => {
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-max-sessions-')), 'pids');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_STARTS: starts } }),
      receipts,
    });
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0, clientAuth: 'none', maxSessions: 2 });
    const first = testClient();
    const second = testClient();
    const third = testClient();
    const firstTransport = new StreamableHTTPClientTransport(http.url);
    try {
      await first.connect(firstTransport);
      await second.connect(new StreamableHTTPClientTransport(http.url));
      expect(startedPids(starts)).toHaveLength(2);

      const flood = await Promise.all(
        Array.from({ length: 5 }, () =>
          fetch(http.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
            body: JSON.stringify(INITIALIZE),
          }),
        ),
      );
      for (const answer of flood) {
        expect(answer.status).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('5');
        const body = (await answer.json()) as { id: unknown; error: { message: string } };
        expect(body.id).toBe(1);
        expect(body.error.message).toContain('--max-sessions');
      }
      const stream = await fetch(http.sseUrl);
      expect(stream.status).toBe(503);
      expect(await stream.text()).toContain('--max-sessions');
      expect(startedPids(starts)).toHaveLength(2);

      // The sessions in place still serve.
      const result = await second.callTool({ name: 'echo', arguments: { still: 'here' } });
      expect(JSON.stringify(result.content)).toContain('here');

      // DELETE ends the first session and stops its server: a new one fits again.
      await firstTransport.terminateSession();
      const [firstPid] = startedPids(starts);
      await eventually(
        () => firstPid !== undefined && !alive(firstPid),
        'the ended session to stop its server',
      );
      await eventuallyAsync(
        () =>
          third
            .connect(new StreamableHTTPClientTransport(http.url))
            .then(() => true)
            .catch(() => false),
        'the freed slot to take a new session',
      );
      expect(startedPids(starts)).toHaveLength(3);
    } finally {
      for (const client of [first, second, third]) await client.close().catch(() => undefined);
      await http.close();
      await receipts.close();
    }
  });
});
