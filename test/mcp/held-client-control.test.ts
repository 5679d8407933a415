import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBridge } from '../../src/mcp/bridge.js';
import { MAX_CLIENT_IN_FLIGHT } from '../../src/mcp/client-ids.js';
import { lightUpstream, testReceipts } from './helpers.js';
import { eventually, INITIALIZE, RAW_SERVER } from './raw-harness.js';
import { type StdioClient, stdioClient } from './stdio-client.js';

const call = (id: string, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});
const cancel = (requestId: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId, reason: 'no longer wanted' },
});

async function ready(client: StdioClient): Promise<void> {
  client.send(INITIALIZE);
  await eventually(() => client.lines.some((line) => line.id === 'init'), 'initialize');
  client.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
}

/** MAX_CLIENT_IN_FLIGHT calls the server never answers, in one write: the client is then held. */
function fill(client: StdioClient, count: number = MAX_CLIENT_IN_FLIGHT.requests): string[] {
  const ids = Array.from({ length: count }, (_, i) => `h${i}`);
  client.write(ids.map((id) => `${JSON.stringify(call(id, 'hang'))}\n`).join(''));
  return ids;
}

/**
 * Issue 10: a stdio client with MAX_CLIENT_IN_FLIGHT requests in flight is held (the bridge stops
 * reading it). Its `notifications/cancelled` then sat unread behind the hold: cancelling could not
 * relieve it, and a cancelled call still ran once read. Its answers to the server's requests sat
 * there too, so a call waiting on one never ended. Now the held client is read on into a bounded
 * queue: cancellations and answers pass at once, everything else waits its turn (MAX_HELD_LINES).
 */
describe('a stdio client held at its in-flight bound', () => {
  it('attack: it cancels every call in flight and one queued behind the hold: the hold is relieved, the queued one is never sent, each is receipted cancelled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-held-control-'));
    const rawLog = join(dir, 'raw.log');
    const receipts = await testReceipts();
    const bridge = createBridge({
      upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: rawLog } }),
      receipts,
    });
    const client = await stdioClient(bridge);
    try {
      await ready(client);
      const hung = fill(client);
      // Queued behind the hold: three calls, then the cancellations (the one of q1 and of every hung call).
      client.write(
        ['q0', 'q1', 'q2'].map((id) => `${JSON.stringify(call(id, 'echo', { said: id }))}\n`).join(''),
      );
      await eventually(
        () =>
          readFileSync(rawLog, 'utf8')
            .split('\n')
            .filter((line) => line.includes('"hang"')).length === hung.length,
        'every hung call forwarded',
        60_000,
      );
      client.write([...hung, 'q1'].map((id) => `${JSON.stringify(cancel(id))}\n`).join(''));
      // The hold is over: the queued calls not cancelled are answered.
      await eventually(
        () => client.lines.some((line) => line.id === 'q0') && client.lines.some((line) => line.id === 'q2'),
        'the queued calls answered',
        60_000,
      );
      await eventually(
        () => receipts.records.filter((record) => record.outcome === 'cancelled').length === hung.length + 1,
        'a receipt for each cancelled call',
        60_000,
      );
      const seen = readFileSync(rawLog, 'utf8');
      // The server was told of each cancelled call it had, and never got the one cancelled in the queue.
      expect(seen.split('\n').filter((line) => line.includes('notifications/cancelled'))).toHaveLength(
        hung.length,
      );
      expect(seen).not.toContain('"said":"q1"');
      expect(seen).toContain('"said":"q2"');
      const q1 = receipts.records.filter(
        (record) => record.tool === 'echo' && record.outcome === 'cancelled',
      );
      expect(q1).toHaveLength(1);
      expect(q1[0]?.forwarded).toBe(false);
      // MCP: a cancelled request is not answered.
      expect(client.lines.some((line) => line.id === 'q1' || String(line.id).startsWith('h'))).toBe(false);
    } finally {
      await bridge.close();
      await receipts.close();
    }
  }, 180_000);

  it('attack: a call that waits on the client answering the server: the answer is read though the client is held', async () => {
    const receipts = await testReceipts();
    const bridge = createBridge({ upstream: lightUpstream('raw', [RAW_SERVER]), receipts });
    const client = await stdioClient(bridge);
    try {
      await ready(client);
      // The last call that fits asks the client something (sampling) and answers once it is answered.
      fill(client, MAX_CLIENT_IN_FLIGHT.requests - 1);
      client.send(call('sample', 'sample'));
      await eventually(
        () => client.lines.some((line) => line.method === 'sampling/createMessage'),
        'the server asks the client',
        60_000,
      );
      const asked = client.lines.find((line) => line.method === 'sampling/createMessage');
      client.send({
        jsonrpc: '2.0',
        id: asked?.id,
        result: { role: 'assistant', content: { type: 'text', text: 'sampled' }, model: 'm' },
      });
      await eventually(
        () => client.lines.some((line) => line.id === 'sample'),
        'the sampling call answered',
        60_000,
      );
      expect(JSON.stringify(client.lines.find((line) => line.id === 'sample'))).toContain('sampled');
    } finally {
      await bridge.close();
      await receipts.close();
    }
  }, 180_000);
});
